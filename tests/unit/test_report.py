"""The final report: provenance of findings, gaps, metrics derived from the session, Markdown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from taskchain import chain, engine, report
from taskchain.guidance import guide
from taskchain.models import SectionRole, Session
from taskchain.requests import ChainRequest, parse
from taskchain.states import StepState
from taskchain.text import blocks, find_block
from tests.factories import DAY, T0, good_output

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
    assert run.session.status == "completed"
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
    holding = [b for b in blocks(output) if text in " ".join(b.body.split())]
    return {
        section.role
        for name in spec.capabilities
        for section in run.registry.resolve(name).sections
        if find_block(holding, section.names()) is not None
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
        run.session, first, "执行超时（20.0 秒）", now=run.tick(), executor="model"
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
    covered = [a for a in areas if any(a in (r.output or "") for r in done)]
    return {
        "total_steps": len(records),
        "completed_steps": len(done),
        "failed_steps": sum(r.state is StepState.FAILED for r in records),
        "skipped_steps": sum(r.state is StepState.SKIPPED for r in records),
        "completion_rate": pytest.approx(len(done) / len(records), abs=1e-4),
        "first_pass_rate": pytest.approx(sum(r.attempts == 1 for r in done) / len(tried), abs=1e-4),
        "total_attempts": sum(r.attempts for r in records),
        "focus_area_coverage": pytest.approx(len(covered) / len(areas), abs=1e-4),
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
