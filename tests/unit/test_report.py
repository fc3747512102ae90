"""The final report: provenance of findings, gaps, metrics derived from the session, Markdown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from taskchain import chain, engine, report, runner
from taskchain.capabilities import CapabilityRegistry
from taskchain.executors import BuiltinExecutor
from taskchain.guidance import guide
from taskchain.limits import SUMMARY_CHARS
from taskchain.models import SectionRole, Session
from taskchain.requests import ChainRequest, parse
from taskchain.states import StepState
from taskchain.structure import SectionName, read_sections
from taskchain.text import first_sentence
from tests.factories import (
    DAY,
    T0,
    answered,
    build_chain,
    complete_step,
    custom_step,
    good_output,
    start_chain,
)

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
BAD_OUTPUT = "先这样吧。"


class Run:
    """A session driven through the pure engine with a clock that moves a minute per call."""

    def __init__(self, request: dict[str, Any]) -> None:
        definition, self.registry = chain.build(parse(ChainRequest, request))
        self.now = T0
        self.session = engine.start(
            definition, session_id="s-report", tenant="t", now=self.now, ttl_seconds=DAY
        )

    def tick(self) -> float:
        self.now += 60
        return self.now

    def ready(self) -> list[str]:
        return engine.ready_steps(self.session)

    def good(self, step_id: str, **override: Any) -> None:
        guidance = guide(self.session, step_id, self.registry).model_dump()
        self.submit(step_id, good_output({**guidance, **override}))

    def submit(self, step_id: str, output: str) -> bool:
        outcome = engine.submit(
            self.session, step_id, output, now=self.tick(), registry=self.registry
        )
        self.session = outcome.session
        return outcome.accepted

    def skip(self, step_id: str, reason: str) -> None:
        self.session = engine.skip(self.session, step_id, reason, now=self.tick())

    def finish(self) -> None:
        while self.ready():
            self.good(self.ready()[0])

    def build(self) -> report.Report:
        return report.build(self.session, self.registry, now=self.tick())


def template_run(language: str = "zh", task_type: str = "analysis") -> Run:
    target = (
        "社区咖啡店是否应该推出会员订阅制"
        if language == "zh"
        else "Should the cafe sell memberships"
    )
    focus = ["客单价", "复购率"] if language == "zh" else ["basket size", "repeat visits"]
    return Run(
        {
            "task_type": task_type,
            "target": target,
            "config": {"language": language, "focus_areas": focus},
        }
    )


def mixed_run() -> Run:
    """A finished chain with a completed, a skipped, a failed and a dependent step, and a focus
    area no accepted output names (its steps do not require focus areas)."""
    relaxed = {"require_focus_areas": False}
    run = Run(
        {
            "task_type": "custom",
            "target": "社区咖啡店是否应该推出会员订阅制",
            "config": {"focus_areas": ["客单价", "复购率"]},
            "custom_chain": [
                {"id": "frame", "name": "界定问题", "required_capabilities": ["理解分析"],
                 "validation_rules": relaxed},
                {"id": "survey", "name": "会员调研", "required_capabilities": ["信息检索"],
                 "validation_rules": relaxed},
                {"id": "model", "name": "收益测算", "required_capabilities": ["数据整理"],
                 "validation_rules": relaxed, "max_attempts": 2},
                {"id": "decide", "name": "形成结论", "required_capabilities": ["结果整合"],
                 "dependencies": ["model"], "validation_rules": relaxed},
            ],
        }
    )  # fmt: skip
    run.good("frame", focus_areas=["客单价"])
    run.skip("survey", "没有拿到会员问卷数据")
    for _ in range(2):
        assert run.submit("model", BAD_OUTPUT) is False
    assert run.session.status == "completed_with_gaps"
    return run


def retried_run() -> Run:
    """A finished template chain whose first step needed two attempts."""
    run = template_run()
    first = run.ready()[0]
    assert run.submit(first, BAD_OUTPUT) is False
    run.finish()
    assert run.session.record(first).attempts == 2
    return run


# --- provenance ----------------------------------------------------------------------------


def section_roles(run: Run, step_id: str, text: str) -> set[SectionRole]:
    """The roles of the step's required sections whose block in its output holds ``text``."""
    spec = run.session.definition.step(step_id)
    assert spec is not None
    output = run.session.record(step_id).output or ""
    specs = [s for name in spec.capabilities for s in run.registry.resolve(name).sections]
    found = read_sections(output, [SectionName(s.key, s.names()) for s in specs])
    return {
        section.role
        for section in specs
        if section.key in found and text in " ".join(found[section.key].body.split())
    }


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("task_type", ["analysis", "creative", "education", "research"])
def test_findings_and_recommendations_trace_to_their_sections(
    language: str, task_type: str
) -> None:
    run = template_run(language, task_type)
    run.finish()

    built = run.build()

    names = {s.id: s.name for s in run.session.definition.steps}
    for kind, items in (("finding", built.key_findings), ("recommendation", built.recommendations)):
        for item in items:
            record = run.session.record(item.step_id)
            assert record.state is StepState.COMPLETED
            assert item.step_name == names[item.step_id]
            text = item.text.rstrip("…")
            assert text in " ".join((record.output or "").split())
            assert kind in section_roles(run, item.step_id, text), (kind, item)
    # every step that has a findings (recommendations) section contributes to it
    for role, items in (("finding", built.key_findings), ("recommendation", built.recommendations)):
        expected = {
            s.id
            for s in run.session.definition.steps
            if any(
                sec.role == role
                for name in s.capabilities
                for sec in run.registry.resolve(name).sections
            )
        }
        assert {i.step_id for i in items} == expected


def test_without_findings_sections_each_steps_gist_stands_in() -> None:
    run = Run(
        {
            "task_type": "custom",
            "target": "社区咖啡店是否应该推出会员订阅制",
            "custom_chain": [
                {"id": "a", "name": "界定问题", "required_capabilities": ["理解分析"]},
                {"id": "b", "name": "列出需求", "required_capabilities": ["需求提取"]},
            ],
        }
    )
    run.finish()

    built = run.build()

    assert [(f.step_id, f.text) for f in built.key_findings] == [
        (s.id, run.session.record(s.id).summary) for s in run.session.definition.steps
    ]
    assert built.recommendations == []


def test_outputs_of_unfinished_steps_are_not_reported_as_findings() -> None:
    run = template_run()
    run.good(run.ready()[0])
    second = run.ready()[0]
    run.submit(second, BAD_OUTPUT)  # refused: not a finding

    built = run.build()

    assert BAD_OUTPUT not in {f.text for f in built.key_findings}
    assert {f.step_id for f in built.key_findings + built.recommendations} <= {
        s for s, r in run.session.records.items() if r.state is StepState.COMPLETED
    }


def test_a_completed_step_does_not_show_the_error_of_an_earlier_attempt() -> None:
    run = template_run()
    first = run.ready()[0]
    run.session = engine.record_error(
        run.session, first, "执行超时（20.0 秒）", now=run.tick(), executor="llm"
    )
    run.good(first)

    built = run.build()

    result = built.detailed_results[first]
    assert (result.state, result.attempts) == ("completed", 2)
    assert result.reason is None
    assert "执行超时" not in report.to_markdown(built, run.session)


# --- gaps ------------------------------------------------------------------------------------


def test_gaps_list_skipped_failed_steps_and_uncovered_focus_areas() -> None:
    run = mixed_run()

    built = run.build()

    by_step = {g.step_id: g for g in built.gaps if g.step_id}
    assert by_step["survey"].kind == "step_skipped"
    assert "没有拿到会员问卷数据" in by_step["survey"].reason
    assert by_step["model"].kind == "step_failed"
    assert by_step["decide"].kind == "step_skipped"
    assert "model" in by_step["decide"].reason
    assert "frame" not in by_step
    uncovered = [g.focus_area for g in built.gaps if g.kind == "focus_area_uncovered"]
    assert uncovered == ["复购率"]
    assert built.detailed_results["frame"].focus_areas_covered == ["客单价"]


def test_gaps_of_an_open_session_are_the_steps_not_reached() -> None:
    run = template_run()
    run.good(run.ready()[0])

    built = run.build()

    assert built.partial is True
    unfinished = [
        s.id for s in run.session.definition.steps if not run.session.record(s.id).finished
    ]
    assert [g.step_id for g in built.gaps if g.kind == "step_not_reached"] == unfinished


def test_a_complete_chain_has_no_gaps() -> None:
    run = template_run("en")
    run.finish()

    assert run.build().gaps == []


# --- quality metrics -------------------------------------------------------------------------


def expected_metrics(session: Session) -> dict[str, Any]:
    """The metrics worked out by hand from the session's records."""
    records = list(session.records.values())
    done = [r for r in records if r.state is StepState.COMPLETED]
    tried = [r for r in records if r.attempts > 0]
    areas = session.definition.config.focus_areas
    # every step is asked about every area: the pairs whose accepted output names the area
    covered = [(r.step_id, a) for r in done for a in areas if a in (r.output or "")]
    return {
        "total_steps": len(records),
        "completed_steps": len(done),
        "failed_steps": sum(r.state is StepState.FAILED for r in records),
        "skipped_steps": sum(r.state is StepState.SKIPPED for r in records),
        "completion_rate": pytest.approx(len(done) / len(records), abs=1e-4),
        "first_pass_rate": pytest.approx(sum(r.attempts == 1 for r in done) / len(tried), abs=1e-4),
        "total_attempts": sum(r.attempts for r in records),
        "focus_area_coverage": pytest.approx(len(covered) / (len(records) * len(areas)), abs=1e-4),
        "total_duration": pytest.approx(sum(r.duration or 0 for r in records), abs=1e-5),
        "elapsed": pytest.approx(session.updated_at - session.created_at),
    }


@pytest.mark.parametrize("scenario", [retried_run, mixed_run], ids=["retried", "mixed"])
def test_quality_metrics_are_computed_from_the_session(scenario: Callable[[], Run]) -> None:
    run = scenario()

    metrics = run.build().quality_metrics.model_dump()

    expected = expected_metrics(run.session)
    assert {k: metrics[k] for k in expected} == expected


def test_a_retried_step_lowers_the_first_pass_rate() -> None:
    run = retried_run()

    metrics = run.build().quality_metrics

    assert metrics.completion_rate == 1.0
    assert metrics.first_pass_rate < 1.0
    assert metrics.total_attempts == metrics.total_steps + 1


def test_metrics_of_a_mixed_chain_are_not_perfect() -> None:
    metrics = mixed_run().build().quality_metrics

    assert 0 < metrics.completion_rate < 1
    assert 0 < metrics.focus_area_coverage < 1
    assert metrics.completed_steps + metrics.failed_steps + metrics.skipped_steps == (
        metrics.total_steps
    )


# --- partial ---------------------------------------------------------------------------------


def test_partial_until_the_chain_is_finished() -> None:
    run = template_run()
    assert run.build().partial is True

    run.finish()

    built = run.build()
    assert built.partial is False
    assert built.status == "completed"


def test_a_stopped_chain_is_partial() -> None:
    run = Run(
        {
            "task_type": "custom",
            "target": "x",
            "continue_on_failure": False,
            "custom_chain": [{"id": "a", "name": "A", "max_attempts": 1}, {"id": "b", "name": "B"}],
        }
    )
    run.submit("a", BAD_OUTPUT)

    built = run.build()

    assert run.session.status == "failed"
    assert built.partial is True
    assert {(g.kind, g.step_id) for g in built.gaps} == {
        ("step_failed", "a"),
        ("step_not_reached", "b"),
    }


# --- Markdown --------------------------------------------------------------------------------

NODE = re.compile(r'^\s*(?P<id>s\d+)\["(?P<mark>\S+) (?P<label>.+)"\]:::(?P<state>\w+)$')
EDGE = re.compile(r"^\s*(?P<src>s\d+) --> (?P<dst>s\d+)$")


def mermaid(markdown: str) -> list[str]:
    match = re.search(r"```mermaid\n(.*?)\n```", markdown, re.DOTALL)
    assert match is not None
    return match.group(1).splitlines()


def test_markdown_has_one_node_per_step_and_one_edge_per_dependency() -> None:
    run = Run(
        {
            "task_type": "custom",
            "target": "社区咖啡店是否应该推出会员订阅制",
            "config": {"execution_mode": "parallel"},
            "custom_chain": [
                {"id": "frame", "name": "界定问题"},
                {"id": "market", "name": "市场调研", "dependencies": ["frame"]},
                {"id": "cost", "name": "成本测算", "dependencies": ["frame"]},
                {"id": "merge", "name": "汇总结论", "dependencies": ["market", "cost"]},
            ],
        }
    )
    run.good("frame")
    run.skip("cost", "成本数据缺失")

    lines = mermaid(report.to_markdown(run.build(), run.session))

    assert lines[0] == "flowchart TD"
    nodes = {m["id"]: m for m in map(NODE.match, lines) if m}
    steps = run.session.definition.steps
    assert sorted(n["label"] for n in nodes.values()) == sorted(s.name for s in steps)
    by_name = {s.name: s for s in steps}
    for node in nodes.values():
        assert node["state"] == run.session.record(by_name[node["label"]].id).state.value
    edges = [m for m in map(EDGE.match, lines) if m]
    drawn = {(nodes[e["src"]]["label"], nodes[e["dst"]]["label"]) for e in edges}
    names = {s.id: s.name for s in steps}
    expected = {(names[dep], s.name) for s in steps for dep in s.dependencies}
    assert len(edges) == sum(len(s.dependencies) for s in steps)
    assert drawn == expected


def test_markdown_shows_every_step_and_its_findings() -> None:
    run = template_run()
    run.finish()
    built = run.build()

    markdown = report.to_markdown(built, run.session)

    assert "部分报告" not in markdown
    for spec in run.session.definition.steps:
        assert f"### {spec.name} (`{spec.id}`)" in markdown
    for item in built.key_findings:
        assert item.text in markdown
    # step outputs' headings sit below the report's own
    lines = markdown.splitlines()
    for spec in run.session.definition.steps:
        for line in (run.session.record(spec.id).output or "").splitlines():
            if line.startswith("## "):
                assert line not in lines
                assert "###" + line in lines


def test_english_report_has_english_headings_and_no_chinese() -> None:
    run = template_run("en")
    run.finish()
    built = run.build()

    markdown = report.to_markdown(built, run.session)

    headings = [line for line in markdown.splitlines() if re.match(r"^#{1,2} ", line)]
    assert headings[0].startswith("# Task chain report")
    assert {"## Executive summary", "## Key findings", "## Recommendations", "## Gaps"} <= set(
        headings
    )
    assert not CJK.search(markdown)
    assert not CJK.search(built.executive_summary)
    assert not any(CJK.search(g.reason) for g in built.gaps)


def test_chinese_report_has_chinese_headings() -> None:
    run = template_run("zh")
    run.good(run.ready()[0])

    markdown = report.to_markdown(run.build(), run.session)

    headings = [line for line in markdown.splitlines() if re.match(r"^#{1,2} ", line)]
    assert all(CJK.search(h) for h in headings)
    assert "部分报告" in markdown


# --- an honest report: outlines, placeholders, conclusions first, nothing dropped ---------------


def outline_run(language: str = "zh", task_type: str = "analysis") -> Run:
    """A template chain worked to its end by the builtin executor, which writes outlines."""
    run = template_run(language, task_type)
    run.session = runner.run_chain(
        run.session,
        BuiltinExecutor(),
        registry=run.registry,
        clock=run.tick,
        step_timeout=20.0,
        budget=1e9,
    )
    assert run.session.status == "completed"
    return run


def first_sentence_of(text: str) -> str:
    return re.split(r"(?<=[。！？])|(?<=[.!?])\s", text, maxsplit=1)[0]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("task_type", ["analysis", "creative", "education", "research"])
def test_an_outline_report_says_so_first_and_claims_nothing(language: str, task_type: str) -> None:
    run = outline_run(language, task_type)

    built = run.build()

    assert built.content == "outline"
    first = first_sentence_of(built.executive_summary)
    assert ("提纲" if language == "zh" else "outline") in first, built.executive_summary
    assert ("不是" if language == "zh" else "not") in first
    # unanswered questions and blanks are not findings, recommendations or coverage
    assert built.key_findings == []
    assert built.recommendations == []
    assert all(r.focus_areas_covered == [] for r in built.detailed_results.values())
    metrics = built.quality_metrics
    assert (metrics.completion_rate, metrics.first_pass_rate, metrics.focus_area_coverage) == (
        None,
        None,
        None,
    )
    assert metrics.completed_steps == metrics.total_steps  # every outline was written
    if language == "en":
        assert not CJK.search(built.executive_summary)


@pytest.mark.parametrize(("language", "blank"), [("zh", "不适用"), ("en", "—")])
def test_an_outline_reports_metrics_that_do_not_apply_as_such(language: str, blank: str) -> None:
    run = outline_run(language)
    built = run.build()

    markdown = report.to_markdown(built, run.session)

    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", markdown, re.MULTILINE))
    first_pass = "一次通过率" if language == "zh" else "first-pass rate"
    coverage = "关注点覆盖率" if language == "zh" else "focus-area coverage"
    completion = "完成率" if language == "zh" else "completion rate"
    assert (rows[first_pass], rows[coverage], rows[completion]) == (blank, blank, blank)
    assert "None" not in markdown
    assert ("提纲" if language == "zh" else "outline") in markdown.split("## ")[1]


def test_a_report_of_real_answers_says_so() -> None:
    run = template_run()
    run.finish()

    built = run.build()

    assert built.content == "answers"
    assert built.quality_metrics.completion_rate == 1.0
    assert built.quality_metrics.first_pass_rate == 1.0
    assert built.quality_metrics.focus_area_coverage == 1.0


ZH_PLACEHOLDERS = [
    "待回答：会员价应该定在多少？",
    "（待填写）",
    "（待填写第 2 项）",
    "关注点「复购率」在「核心结论」中的体现：（待填写）",
    "推理框架：因为 … 所以 …",
    "会员月费定为（待定）元",
    "【待补充】",
    "……",
    "会员制能否提高复购率？",
]
EN_PLACEHOLDERS = [
    "To answer: what should a membership cost?",
    "(to be filled in)",
    "(item 1 to fill in)",
    "How 'repeat visits' shows in 'Key conclusions': (to be filled in)",
    "Reasoning frame: because … therefore …",
    "The fee is [TBD] a month",
    "TODO: add the pilot results",
    "...",
    "Will memberships raise repeat visits?",
]
REAL_ITEMS = [
    "会员月费定为 39 元时，试点门店复购率从 22% 升到 31%",
    "Members visited 1.8 times a week against 1.1 for other customers (pilot, 6 weeks)",
    "先在两家门店试点三个月（待遇与非会员的差别见上文）再决定是否推广",  # an aside, not a blank
]


@pytest.mark.parametrize("text", ZH_PLACEHOLDERS + EN_PLACEHOLDERS)
def test_placeholders_and_open_questions_are_recognised(text: str) -> None:
    assert report.is_placeholder(text)


@pytest.mark.parametrize("text", REAL_ITEMS)
def test_real_items_are_not_placeholders(text: str) -> None:
    assert not report.is_placeholder(text)


def titles(registry: CapabilityRegistry, capability: str, language: str = "zh") -> dict[str, str]:
    """The section titles of ``capability`` by role (finding, recommendation...)."""
    return {s.role: s.title.get(language) for s in registry.resolve(capability).sections}


def test_placeholders_in_an_answer_are_not_findings_recommendations_or_coverage() -> None:
    registry = chain.registry_for(build_chain(steps=[custom_step("x")])[0])
    t = titles(registry, "结果整合")
    output = "\n".join(
        [
            f"## {t['finding']}",
            "- 会员月费定为 39 元时，试点门店复购率从 22% 升到 31%，客单价基本不变",
            "- 待回答：会员价应该定在多少？",
            "1. （待填写第 2 项）",
            "- 关注点「复购率」在「核心结论」中的体现：（待填写）",
            "- 推理框架：因为 … 所以 …",
            f"## {t['recommendation']}",
            "- 先在两家门店试点三个月，再决定是否推广到全部门店",
            "- （待填写）",
            "- 会员制能否提高复购率？",
        ]
    )
    built = answered(
        [custom_step("decide", capabilities=["结果整合"])],
        {"decide": output},
        focus_areas=["客单价", "复购率"],
    )

    assert [f.text for f in built.key_findings] == [
        "会员月费定为 39 元时，试点门店复购率从 22% 升到 31%，客单价基本不变"
    ]
    assert [r.text for r in built.recommendations] == [
        "先在两家门店试点三个月，再决定是否推广到全部门店"
    ]
    # 复购率 is named by the finding; a blank that names 客单价 alone would not count
    assert built.detailed_results["decide"].focus_areas_covered == ["客单价", "复购率"]


def test_a_focus_area_named_only_in_a_blank_is_not_covered() -> None:
    registry = chain.registry_for(build_chain(steps=[custom_step("x")])[0])
    t = titles(registry, "结果整合")
    output = (
        f"## {t['finding']}\n- 会员制让客单价提高了约 8%，来自三家门店四周的收银数据\n"
        f"- 关注点「复购率」在「{t['finding']}」中的体现：（待填写）\n"
        f"## {t['recommendation']}\n- 下季度在两家门店试点\n"
    )
    built = answered(
        [custom_step("decide", capabilities=["结果整合"])],
        {"decide": output},
        focus_areas=["客单价", "复购率"],
    )

    assert built.detailed_results["decide"].focus_areas_covered == ["客单价"]
    assert built.quality_metrics.focus_area_coverage == 0.5
    assert [g.focus_area for g in built.gaps if g.kind == "focus_area_uncovered"] == ["复购率"]


def test_no_finding_or_recommendation_is_dropped() -> None:
    registry = chain.registry_for(build_chain(steps=[custom_step("x")])[0])
    t = titles(registry, "结果整合")
    conclusions = [f"门店 {i} 的会员复购率比非会员高 {i + 5} 个百分点" for i in range(7)]
    advice = [f"在门店 {i} 把会员权益调整为第二杯半价" for i in range(5)]
    output = "\n".join(
        [
            f"## {t['finding']}",
            *(f"- {c}" for c in conclusions),
            f"## {t['recommendation']}",
            *(f"{i}. {a}" for i, a in enumerate(advice, 1)),
        ]
    )

    built = answered([custom_step("decide", capabilities=["结果整合"])], {"decide": output})

    assert [f.text for f in built.key_findings] == conclusions
    assert [r.text for r in built.recommendations] == advice


def test_a_prose_conclusion_gives_each_paragraph_as_a_finding() -> None:
    registry = chain.registry_for(build_chain(steps=[custom_step("x")])[0])
    t = titles(registry, "结果整合")
    first = "会员制值得做，试点门店的复购率提高了九个百分点。"
    second = "但月费超过 49 元时退订率明显上升，价格应留在 39 元以内。"
    output = f"## {t['finding']}\n{first}\n\n{second}\n\n## {t['recommendation']}\n先试点三个月。\n"

    built = answered([custom_step("decide", capabilities=["结果整合"])], {"decide": output})

    assert [f.text for f in built.key_findings] == [first, second]


def test_prose_list_items_and_table_rows_in_a_section_are_all_reported_in_order() -> None:
    registry = chain.registry_for(build_chain(steps=[custom_step("x")])[0])
    risks = titles(registry, "风险评估")
    output = "\n".join(
        [
            f"## {risks['finding']}",
            "综合来看，最大的风险来自毛利，而不是客流",
            "- 会员折扣可能侵蚀毛利",
            "  尤其是在工作日的下午时段",
            "- 竞品可能跟进推出更便宜的会员",
            "",
            "| 风险 | 可能性 | 影响 |",
            "|---|---|---|",
            "| 会员退订率高于预期 | 中 | 高 |",
            "| 收银系统改造延期 | 低 | 中 |",
            "",
            f"## {risks['recommendation']}",
            "- 折扣只用于第二杯",
        ]
    )

    built = answered([custom_step("risks", capabilities=["风险评估"])], {"risks": output})

    assert [f.text for f in built.key_findings] == [
        "综合来看，最大的风险来自毛利，而不是客流",
        "会员折扣可能侵蚀毛利 尤其是在工作日的下午时段",
        "竞品可能跟进推出更便宜的会员",
        "风险：会员退订率高于预期，可能性：中，影响：高",
        "风险：收银系统改造延期，可能性：低，影响：中",
    ]


def synthesis_chain(language: str = "zh") -> list[dict[str, Any]]:
    """survey -> risks -> decide: the last step synthesises (and no step depends on it)."""
    names = (
        ("会员调研", "风险分析", "形成结论") if language == "zh" else ("Survey", "Risks", "Decide")
    )
    return [
        custom_step("survey", capabilities=["信息检索"], name=names[0]),
        custom_step("risks", "survey", capabilities=["风险评估"], name=names[1]),
        custom_step("decide", "risks", capabilities=["结果整合"], name=names[2]),
    ]


SYNTHESIS_CHAIN = synthesis_chain()


def synthesis_outputs(registry: CapabilityRegistry, language: str = "zh") -> dict[str, str]:
    facts, risks, synthesis = (
        titles(registry, c, language) for c in ("信息检索", "风险评估", "结果整合")
    )
    if language == "zh":
        return {
            "survey": f"## {facts['finding']}\n- 六成受访顾客每周来店两次以上\n- 附近两家竞品都没有会员制\n",
            "risks": f"## {risks['finding']}\n- 会员折扣可能侵蚀毛利\n"
            f"## {risks['recommendation']}\n- 折扣只用于第二杯\n",
            "decide": f"## {synthesis['finding']}\n- 推出会员订阅制，月费 39 元\n- 先在旗舰店试点三个月\n"
            f"## {synthesis['recommendation']}\n- 下月上线会员小程序\n",
        }
    return {
        "survey": f"## {facts['finding']}\n- Six in ten regulars come twice a week\n",
        "risks": f"## {risks['finding']}\n- Member discounts may eat into the margin\n",
        "decide": f"## {synthesis['finding']}\n- Launch a membership at 39 a month\n"
        f"## {synthesis['recommendation']}\n- Ship the members' app next month\n",
    }


def test_key_findings_lead_with_the_final_synthesis_then_follow_the_chain() -> None:
    registry = chain.registry_for(build_chain(steps=SYNTHESIS_CHAIN)[0])

    built = answered(SYNTHESIS_CHAIN, synthesis_outputs(registry))

    assert [(f.step_id, f.text) for f in built.key_findings] == [
        ("decide", "推出会员订阅制，月费 39 元"),
        ("decide", "先在旗舰店试点三个月"),
        ("survey", "六成受访顾客每周来店两次以上"),
        ("survey", "附近两家竞品都没有会员制"),
        ("risks", "会员折扣可能侵蚀毛利"),
    ]
    assert [r.step_id for r in built.recommendations] == ["decide", "risks"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_summary_states_the_main_conclusions_with_their_steps(language: str) -> None:
    steps = synthesis_chain(language)
    registry = chain.registry_for(build_chain(steps=steps)[0])
    target = "会员订阅制" if language == "zh" else "a membership scheme for the cafe"

    built = answered(steps, synthesis_outputs(registry, language), language=language, target=target)

    summary = built.executive_summary
    if language == "zh":
        assert "主要结论：推出会员订阅制，月费 39 元（来自「形成结论」）" in summary
        assert "先在旗舰店试点三个月（来自「形成结论」）" in summary
    else:
        assert "Main conclusions: Launch a membership at 39 a month (from 'Decide')" in summary
        assert not CJK.search(summary)
    assert summary.index("主要结论" if language == "zh" else "Main conclusions") < 150


def test_a_chain_that_ended_with_gaps_is_finished_not_partial() -> None:
    run = mixed_run()

    built = run.build()

    assert built.status == "completed_with_gaps"
    assert built.partial is False
    markdown = report.to_markdown(built, run.session)
    assert "部分报告" not in markdown


def test_a_chain_where_nothing_was_completed_is_failed_but_finished() -> None:
    run = Run(
        {
            "task_type": "custom",
            "target": "x",
            "custom_chain": [{"id": "a", "name": "A", "max_attempts": 1}, {"id": "b", "name": "B"}],
        }
    )
    run.submit("a", BAD_OUTPUT)
    run.skip("b", "不需要")

    built = run.build()

    assert built.status == "failed"
    assert built.partial is False
    assert built.key_findings == []
    assert built.quality_metrics.completion_rate == 0.0


# --- what is not a finding: the goal restated, a question --------------------------------------

# The first step the API audit submitted (its #7): the core question restates the goal, ending
# with a full stop; it is no finding, though a partial report quoted it as the main conclusion.
AUDIT_UNDERSTANDING = """## 核心问题
这家社区咖啡店要回答的是：推出每月 199 元的会员订阅制后，能否在 6 个月内提高老客复购并保持毛利不下降。

## 关键概念
- 会员订阅：顾客按月预付，每天可领取一杯美式或拿铁，例如“每日一杯”套餐。
- 复购率：30 天内再次到店消费的顾客占比。

## 成功标准
1. 6 个月内订阅会员达到 150 人，月流失率低于 10%。
2. 门店整体毛利率保持在 60% 以上，不因订阅折扣而下降。
3. 会员的月均到店次数比普通顾客高出至少 50%。

## 需求清单
1. 收银系统需要支持按月自动扣款和会员核销，例如接入微信支付的周期扣款。
2. 需要一份会员权益说明，写清每日限领一杯、不可转让。
3. 需要每周统计订阅人数、核销杯数和退订原因。
4. 店员需要 2 小时的培训，掌握会员核销和退订流程。

## 约束条件
- 预算：前期投入不超过 8000 元，包括系统改造和宣传物料。
- 人力：门店只有 3 名店员，高峰期 7:30–9:30 无法增加额外操作。
- 法规：预付卡需遵守当地单用途预付卡管理规定，预收金额要有备案。

## 关注点：成本
每杯咖啡的原料成本约 6 元，按会员每月到店 20 次计算，原料成本约 120 元，占 199 元订阅费的 60%，再加上杯子和人工，单个会员的毛利只有 30 元左右，需要控制领取频次。

## 关注点：客户留存
社区店的老客集中在周边 1 公里的两个小区，订阅制通过预付锁定消费，例如连续订阅 3 个月赠送一包咖啡豆，可以把 90 天留存率从目前估计的 35% 提高到 50%（估算，需要试点验证）。

## 隐含假设与取舍
假设会员不会把每日一杯转给他人；如果会员需求与高峰期效率冲突，优先保证高峰期出杯速度，会员可提前在小程序下单。
"""


def test_the_goal_restated_in_the_core_question_is_no_finding_or_conclusion() -> None:
    # GIVEN the audit's analysis session with only its first step answered
    run = Run(
        {
            "task_type": "analysis",
            "target": "一家社区咖啡店是否应该推出会员订阅制",
            "config": {"focus_areas": ["成本", "客户留存"]},
        }
    )
    assert run.submit("understand_goal", AUDIT_UNDERSTANDING) is True

    # WHEN the partial report is built
    built = run.build()

    # THEN the question it restates is neither a key finding nor a main conclusion
    assert [f.text for f in built.key_findings] == []
    assert "能否在 6 个月内" not in built.executive_summary
    assert "主要结论" not in built.executive_summary
    assert "尚无可以报告的结论" in built.executive_summary
    assert "能否在 6 个月内" not in report.to_markdown(built, run.session).split("## 各步骤结果")[0]


EN_RESTATED = (
    "## Core question\nThe question this cafe has to answer is whether a membership at 19 a month "
    "can raise repeat visits within six months without lowering the margin.\n\n"
    "## Success criteria\n- 150 members within six months, fewer than 10% cancelling a month.\n"
    "## Requirement list\n- The till must take monthly payments and record each member's cup.\n"
    "## Constraints\n- Budget: at most 8,000 for the till and the posters.\n"
)


def test_an_english_restatement_of_the_goal_is_no_finding_either() -> None:
    steps = [custom_step("frame", capabilities=["理解分析", "需求提取"], name="Frame")]
    definition, registry = build_chain(steps=steps, language="en")
    session = complete_step(start_chain(definition), "frame", EN_RESTATED)
    record = session.record("frame")  # its gist, as the engine keeps it with an accepted output
    gist = first_sentence(EN_RESTATED, SUMMARY_CHARS)
    session = session.model_copy(
        update={"records": {"frame": record.model_copy(update={"summary": gist})}}
    )

    built = report.build(session, registry, now=T0 + 3600)

    assert "whether a membership" not in " ".join(f.text for f in built.key_findings)
    assert "whether a membership" not in built.executive_summary


# --- focus-area coverage: over what was asked -------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_focus_area_coverage_is_a_share_of_what_every_step_was_asked(language: str) -> None:
    # GIVEN a four-step chain whose first step discussed both focus areas, the rest unanswered
    run = template_run(language)
    first = run.ready()[0]
    run.good(first)
    assert run.build().detailed_results[first].focus_areas_covered == list(
        run.session.definition.config.focus_areas
    )

    # WHEN the chain ends with the other three steps skipped
    for step in run.session.definition.steps[1:]:
        if not run.session.record(step.id).finished:
            run.skip(step.id, "没有时间" if language == "zh" else "no time")
    built = run.build()

    # THEN coverage counts the 2 areas of each of the 4 steps: 2 of 8 were discussed
    assert built.status == "completed_with_gaps"
    assert built.quality_metrics.focus_area_coverage == 0.25
    said = built.executive_summary
    assert "100%" not in said
    if language == "zh":
        assert "关注点覆盖率 25%（4 步各应讨论 2 个关注点，共 8 处，讨论到 2 处）" in said, said
    else:
        assert (
            "focus-area coverage 25% (each of the 4 steps was to discuss 2 focus areas: "
            "2 of those 8 were discussed)" in said
        ), said
    markdown = report.to_markdown(built, run.session)
    row = "| 关注点覆盖率 | 25%（8 处中的 2 处） |" if language == "zh" else (
        "| focus-area coverage | 25% (2 of 8 step–area pairs) |")  # fmt: skip
    assert row in markdown, markdown


# --- table rows keep their column headers ----------------------------------------------------

# The audit's #10: a synthesis written as two tables.
TABLES = {
    "zh": "## 核心结论\n| 结论 | 依据 |\n|---|---|\n"
    "| 社区咖啡店应先试点会员订阅制 3 个月 | 毛利测算显示附加消费率 40% 时可盈利 |\n"
    "## 行动建议\n| 行动 | 优先级 |\n|---|---|\n| 开放 50 个试点名额 | **高** |\n"
    "| 每周统计核销杯数 | 中 |\n",
    "en": "## Key conclusions\n| Conclusion | Basis |\n|---|---|\n"
    "| The cafe should pilot memberships for 3 months | the margin model breaks even at 40% "
    "add-on sales |\n"
    "## Recommendations\n| Action | Priority |\n|---|---|\n| Open 50 pilot places | **high** |\n"
    "| Count the cups redeemed each week | medium |\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_findings_and_recommendations_from_table_rows_keep_their_headers(language: str) -> None:
    steps = [custom_step("decide", capabilities=["结果整合"], name="形成结论")]

    built = answered(steps, {"decide": TABLES[language]}, language=language)

    findings = [f.text for f in built.key_findings]
    recommendations = [r.text for r in built.recommendations]
    if language == "zh":
        assert findings == ["结论：社区咖啡店应先试点会员订阅制 3 个月，依据：毛利测算显示附加消费率 "
                            "40% 时可盈利"]  # fmt: skip
        assert recommendations == ["行动：开放 50 个试点名额，优先级：高",
                                   "行动：每周统计核销杯数，优先级：中"]  # fmt: skip
    else:
        assert findings == ["Conclusion: The cafe should pilot memberships for 3 months, Basis: "
                            "the margin model breaks even at 40% add-on sales"]  # fmt: skip
        assert recommendations == ["Action: Open 50 pilot places, Priority: high",
                                   "Action: Count the cups redeemed each week, Priority: medium"]  # fmt: skip
    assert not any("|" in text for text in findings + recommendations)


# --- gaps name what failed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "areas", "named"),
    [
        ("zh", ["成本", "客户留存"], ["focus_area（成本）", "focus_area（客户留存）"]),
        ("en", ["cost", "retention"], ["focus_area (cost)", "focus_area (retention)"]),
    ],
)
def test_a_failed_steps_gap_names_each_focus_area_it_missed(
    language: str, areas: list[str], named: list[str]
) -> None:
    run = Run(
        {
            "task_type": "custom",
            "target": "社区咖啡店是否应该推出会员订阅制"
            if language == "zh"
            else "A cafe membership",
            "config": {"language": language, "focus_areas": areas},
            "custom_chain": [{"id": "a", "name": "A", "max_attempts": 1}],
        }
    )
    run.submit("a", BAD_OUTPUT)

    [gap] = run.build().gaps[:1]

    assert gap.kind == "step_failed"
    for name in named:
        assert name in gap.reason, gap.reason
    assert "focus_area," not in gap.reason, gap.reason
    assert not gap.reason.endswith("focus_area"), gap.reason


# --- Chinese reports say states, executors and gaps in Chinese -------------------------------

ENGLISH_WORD = re.compile(r"[A-Za-z_]{3,}")


def test_a_chinese_report_names_states_executors_and_gap_kinds_in_chinese() -> None:
    # GIVEN a Chinese chain: a step answered (after a refused try), one skipped, one failed,
    # one not reached
    run = Run(
        {
            "task_type": "custom",
            "target": "社区咖啡店是否应该推出会员订阅制",
            "config": {"execution_mode": "parallel"},
            "custom_chain": [
                {"id": "frame", "name": "界定问题"},
                {"id": "survey", "name": "会员调研"},
                {"id": "model", "name": "收益测算", "max_attempts": 1},
                {"id": "decide", "name": "形成结论", "dependencies": ["frame"]},
            ],
        }
    )  # fmt: skip
    assert run.submit("frame", BAD_OUTPUT) is False
    run.good("frame")
    run.skip("survey", "没有拿到会员问卷数据")
    run.submit("model", BAD_OUTPUT)

    markdown = report.to_markdown(run.build(), run.session)

    # THEN the headings, meta lines and gap lines carry no English state, executor or kind
    lines = markdown.splitlines()
    headings = [line for line in lines if line.startswith("### ")]
    assert [h.split(" — ")[1] for h in headings] == ["已完成", "已跳过", "失败", "就绪"], headings
    meta = [line for line in lines if line.startswith("_尝试次数")]
    assert meta[0] == "_尝试次数：2 · 执行者：引导式提交_", meta
    gaps = markdown.split("## 缺口\n\n")[1].split("\n\n")[0].splitlines()
    assert gaps[0] == "- [跳过的步骤] 会员调研：没有拿到会员问卷数据", gaps
    assert gaps[-1] == "- [未完成的步骤] 形成结论：尚未完成", gaps
    for line in [*headings, *meta, *gaps]:
        assert not ENGLISH_WORD.search(line.replace("`frame`", "").replace("`survey`", "")
                                       .replace("`model`", "").replace("`decide`", "")
                                       .split("多次尝试后仍未通过检查")[0]), line  # fmt: skip
