"""The original plugin's one-shot contract, end to end through ``taskchain.run``."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import taskchain
from taskchain import engine
from taskchain.capabilities import CapabilityRegistry
from taskchain.limits import (
    MAX_FOCUS_AREA_CHARS,
    MAX_FOCUS_AREAS,
    MAX_STEP_DESCRIPTION_CHARS,
    MAX_STEP_NAME_CHARS,
    MAX_STEPS,
    MAX_TARGET_CHARS,
)
from taskchain.templates import TEMPLATE_KEYS, load_template

# CJK ideographs plus CJK and full-width punctuation: none may leak into an English response.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
HAN = re.compile(r"[\u4e00-\u9fff]")

TOP_LEVEL = {
    "success",
    "content",
    "session_id",
    "run_id",
    "task_type",
    "target",
    "execution_results",
    "final_report",
    "execution_summary",
}
RESULT_KEYS = {"task_id", "status", "output", "error_message", "execution_time", "timestamp"}
REPORT_KEYS = {
    "executive_summary",
    "target_analysis",
    "key_findings",
    "detailed_results",
    "recommendations",
    "quality_metrics",
}
ERROR_KEYS = {"success", "error_code", "error"}

TARGETS = {
    "zh": "社区咖啡店是否应该开设第二家门店",
    "en": "Should our coffee shop open a second branch",
}
FOCUS = {"zh": ["租金成本", "客流"], "en": ["rent cost", "foot traffic"]}


def run(request: Any) -> dict[str, Any]:
    """``taskchain.run``, checked to be JSON-serialisable like the plugin's answer."""
    result = taskchain.run(request)
    json.dumps(result, ensure_ascii=False)
    return result


def results_by_id(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["task_id"]: r for r in response["execution_results"]}


def step(step_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "name": name, "description": f"{name}：写出要点", **extra}


# --- every template, language and depth ---------------------------------------------------


@pytest.mark.parametrize("depth", ["basic", "detailed", "comprehensive"])
@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("task_type", TEMPLATE_KEYS)
def test_template_runs_whole_chain_in_original_shape(
    task_type: str, language: str, depth: str
) -> None:
    # GIVEN a request in the original plugin's shape
    request = {
        "task_type": task_type,
        "target": TARGETS[language],
        "config": {"depth": depth, "language": language, "focus_areas": FOCUS[language]},
    }

    # WHEN it is run in one call
    response = run(request)

    # THEN it succeeds with exactly the original top-level keys
    assert response["success"] is True, response.get("error")
    assert set(response) == TOP_LEVEL
    assert response["content"] == "outline"  # the builtin executor writes outlines, not answers
    assert response["task_type"] == task_type
    assert response["target"] == TARGETS[language]
    assert response["session_id"]

    template_steps = load_template(task_type).step_specs(language)
    results = response["execution_results"]
    assert [r["task_id"] for r in results] == [s.id for s in template_steps]
    for result, spec in zip(results, template_steps, strict=True):
        assert set(result) >= RESULT_KEYS
        assert result["status"] == "completed"
        assert result["error_message"] is None
        assert result["execution_time"] >= 0
        assert result["timestamp"]
        # honest outlines: labelled with their executor and saying what they are
        assert result["executor"] == "builtin"
        assert ("提纲" if language == "zh" else "Outline") in result["output"]
        assert spec.name in result["output"]
        for area in FOCUS[language]:
            assert area in result["output"], (result["task_id"], area)

    summary = response["execution_summary"]
    statuses = [r["status"] for r in results]
    assert summary["total_tasks"] == len(results)
    assert summary["completed_tasks"] == statuses.count("completed")
    assert summary["failed_tasks"] == statuses.count("failed")
    assert summary["total_execution_time"] == pytest.approx(
        sum(r["execution_time"] for r in results), abs=1e-5
    )

    report = response["final_report"]
    assert set(report) >= REPORT_KEYS
    assert report["target_analysis"]["target"] == TARGETS[language]
    assert set(report["detailed_results"]) == {s.id for s in template_steps}
    outputs = {r["task_id"]: r["output"] for r in results}
    names = {s.id: s.name for s in template_steps}
    # an outline says so first, and its unanswered questions and blanks are not findings
    assert report["content"] == "outline"
    first_sentence = re.split(r"(?<=。)|(?<=\.)\s", report["executive_summary"], maxsplit=1)[0]
    assert ("提纲" if language == "zh" else "outline") in first_sentence
    assert report["key_findings"] == []
    assert report["recommendations"] == []
    assert not any(g["kind"] == "focus_area_uncovered" for g in report["gaps"])
    metrics = report["quality_metrics"]
    assert metrics["completed_steps"] == summary["completed_tasks"]
    assert metrics["completion_rate"] is None
    assert metrics["first_pass_rate"] is None
    assert metrics["focus_area_coverage"] is None

    # the user-facing text is in the requested language
    user_text = [report["executive_summary"], *outputs.values(), *names.values()]
    if language == "zh":
        assert all(HAN.search(text) for text in user_text)
    else:
        assert not CJK.search(json.dumps(response, ensure_ascii=False))


def test_default_language_is_chinese_and_defaults_apply() -> None:
    response = run({"task_type": "research", "target": "城市共享单车的停放管理"})

    assert response["success"] is True
    analysis = response["final_report"]["target_analysis"]
    assert (analysis["language"], analysis["depth"], analysis["execution_mode"]) == (
        "zh",
        "detailed",
        "sequential",
    )
    assert HAN.search(response["final_report"]["executive_summary"])


# --- custom chains ---------------------------------------------------------------------------

DIAMOND = [
    # listed out of order on purpose: the chain must still run dependencies first
    step("merge", "汇总结论", dependencies=["market", "cost"], required_capabilities=["结果整合"]),
    step("market", "市场调研", dependencies=["frame"], required_capabilities=["信息检索"]),
    step("cost", "成本测算", dependencies=["frame"], required_capabilities=["数据整理"]),
    step("frame", "界定问题", required_capabilities=["理解分析"]),
]


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_custom_diamond_runs_dependencies_first_in_both_modes(mode: str) -> None:
    response = run(
        {
            "task_type": "custom",
            "target": "是否开设第二家门店",
            "custom_chain": DIAMOND,
            "config": {"execution_mode": mode},
        }
    )

    assert response["success"] is True, response.get("error")
    order = [r["task_id"] for r in response["execution_results"]]
    assert sorted(order) == sorted(s["id"] for s in DIAMOND)
    for spec in DIAMOND:
        for dep in spec.get("dependencies", []):
            assert order.index(dep) < order.index(spec["id"])
    assert {r["status"] for r in response["execution_results"]} == {"completed"}
    assert response["final_report"]["target_analysis"]["execution_mode"] == mode
    assert response["execution_summary"]["completed_tasks"] == len(DIAMOND)


def test_custom_chain_is_used_even_with_a_template_task_type() -> None:
    chain = [step("a", "列出门店候选地址"), step("b", "比较候选地址", dependencies=["a"])]

    response = run({"task_type": "analysis", "target": "门店选址", "custom_chain": chain})

    assert response["success"] is True
    assert response["task_type"] == "analysis"
    assert [(r["task_id"], r["name"]) for r in response["execution_results"]] == [
        ("a", "列出门店候选地址"),
        ("b", "比较候选地址"),
    ]
    assert response["final_report"]["target_analysis"]["template"] is None


def test_custom_steps_without_ids_are_numbered() -> None:
    response = run(
        {
            "task_type": "custom",
            "target": "门店选址",
            "custom_chain": [{"name": "第一步"}, {"name": "第二步", "dependencies": ["step_1"]}],
        }
    )

    assert response["success"] is True
    assert [r["task_id"] for r in response["execution_results"]] == ["step_1", "step_2"]


def test_learning_chain_is_used_for_education() -> None:
    learning = [
        {"step": "掌握基本句型", "action": "每天朗读并仿写五个句子"},
        {"step": "练习日常对话", "action": "和语伴进行十分钟情景对话"},
        {"step": "完成一次演讲", "action": "准备三分钟自我介绍并录音复盘"},
    ]

    response = run(
        {"task_type": "education", "target": "三个月学会日常英语口语", "learning_chain": learning}
    )

    assert response["success"] is True
    results = response["execution_results"]
    assert [r["name"] for r in results] == [s["step"] for s in learning]
    for result, spec in zip(results, learning, strict=True):
        assert spec["action"] in result["output"]
    assert response["final_report"]["target_analysis"]["template"] is None


def test_inline_capability_shapes_the_step_that_uses_it() -> None:
    capability = {
        "name": "竞品对比",
        "checklist": ["{target} 的三家主要竞品分别是谁？", "各竞品的定价差异有多大？"],
        "sections": ["对比维度", "对比结论"],
    }
    chain = [step("compare", "对比竞品", required_capabilities=["竞品对比"])]

    response = run(
        {
            "task_type": "custom",
            "target": "社区咖啡店",
            "custom_chain": chain,
            "capabilities": [capability],
        }
    )

    assert response["success"] is True, response.get("error")
    output = response["execution_results"][0]["output"]
    for title in capability["sections"]:
        assert f"## {title}" in output
    assert "「社区咖啡店」的三家主要竞品分别是谁？" in output
    assert "各竞品的定价差异有多大？" in output
    # the outline's questions under a section titled like conclusions are not findings
    assert response["final_report"]["key_findings"] == []


# --- failures ----------------------------------------------------------------------------------

UNSATISFIABLE = {"json_schema": {"type": "object", "required": ["answer"]}}


def failing_chain() -> list[dict[str, Any]]:
    """A chain whose first step no outline can pass, a dependent, and an independent step."""
    return [
        step("needs_json", "输出 JSON", validation_rules=UNSATISFIABLE, max_attempts=2),
        step("dependent", "依赖 JSON 的步骤", dependencies=["needs_json"]),
        step("independent", "独立步骤"),
    ]


@pytest.mark.parametrize("flag", [False, "false", "False"])
def test_failure_stops_the_chain_when_continue_on_failure_is_false(flag: object) -> None:
    response = run(
        {
            "task_type": "custom",
            "target": "门店选址",
            "custom_chain": failing_chain(),
            "continue_on_failure": flag,
        }
    )

    assert response["success"] is False
    assert response["error_code"] == "EXECUTION_FAILED"
    assert HAN.search(response["error"])
    results = results_by_id(response)
    assert results["needs_json"]["status"] == "failed"
    assert results["needs_json"]["attempts"] == 2
    assert "json_schema" in results["needs_json"]["error_message"]
    for later in ("dependent", "independent"):
        assert results[later]["status"] not in ("completed", "failed", "skipped")
        assert results[later]["output"] is None
        assert results[later]["attempts"] == 0
    assert response["execution_summary"]["failed_tasks"] == 1
    assert response["execution_summary"]["completed_tasks"] == 0
    assert response["final_report"]["partial"] is True
    assert response["final_report"]["status"] == "failed"
    # the details name the steps, as every other failure's do
    assert response["details"] == {
        "failed_steps": ["needs_json"],
        "skipped_steps": [],
        "unfinished_steps": ["dependent", "independent"],
    }


def test_config_continue_on_failure_false_also_stops_the_chain() -> None:
    response = run(
        {
            "task_type": "custom",
            "target": "门店选址",
            "custom_chain": failing_chain(),
            "config": {"continue_on_failure": False, "language": "en"},
        }
    )

    assert response["error_code"] == "EXECUTION_FAILED"
    assert not CJK.search(response["error"])


def test_failure_skips_dependents_and_goes_on_by_default() -> None:
    response = run({"task_type": "custom", "target": "门店选址", "custom_chain": failing_chain()})

    assert response["success"] is True
    results = results_by_id(response)
    assert results["needs_json"]["status"] == "failed"
    assert results["dependent"]["status"] == "skipped"
    assert "needs_json" in results["dependent"]["error_message"]
    assert results["independent"]["status"] == "completed"
    gaps = {(g["kind"], g["step_id"]) for g in response["final_report"]["gaps"]}
    assert ("step_failed", "needs_json") in gaps
    assert ("step_skipped", "dependent") in gaps
    summary = response["execution_summary"]
    assert (summary["completed_tasks"], summary["failed_tasks"]) == (1, 1)
    # the chain ran to its end: finished, with its failed and skipped steps as gaps
    assert response["final_report"]["partial"] is False
    assert response["final_report"]["status"] == "completed_with_gaps"
    assert "error_code" not in response


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_chain_that_completed_no_step_did_not_succeed(language: str) -> None:
    chain = [
        step("first", "输出 JSON", validation_rules=UNSATISFIABLE, max_attempts=1),
        step("second", "也输出 JSON", validation_rules=UNSATISFIABLE, max_attempts=1),
    ]

    response = run(
        {"task_type": "custom", "target": "门店选址", "custom_chain": chain,
         "config": {"language": language}}
    )  # fmt: skip

    assert response["success"] is False
    assert response["error_code"] == "EXECUTION_FAILED"
    assert response["final_report"]["status"] == "failed"
    assert response["final_report"]["partial"] is False
    assert {r["status"] for r in response["execution_results"]} == {"failed"}
    if language == "zh":
        assert "没有任何步骤完成" in response["error"]
    else:
        assert "no step was completed" in response["error"]
        assert not CJK.search(response["error"])


# --- error codes -------------------------------------------------------------------------------


def custom(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"task_type": "custom", "target": "门店选址", "custom_chain": list(steps), **extra}


ERROR_CASES: list[tuple[str, Any, str, str | None]] = [
    # (case, request, error code, details["field"] or None)
    ("no task_type", {"target": "门店选址"}, "MISSING_REQUIRED_FIELD", "task_type"),
    ("no target", {"task_type": "analysis"}, "MISSING_REQUIRED_FIELD", "target"),
    ("empty target", {"task_type": "analysis", "target": ""}, "MISSING_REQUIRED_FIELD", "target"),
    (
        "whitespace target",
        {"task_type": "analysis", "target": " \t\n "},
        "MISSING_REQUIRED_FIELD",
        "target",
    ),
    (
        "control-character target",
        {"task_type": "analysis", "target": "\x00\x07"},
        "MISSING_REQUIRED_FIELD",
        "target",
    ),
    (
        "custom without chain",
        {"task_type": "custom", "target": "x"},
        "MISSING_REQUIRED_FIELD",
        "custom_chain",
    ),
    ("custom with empty chain", custom(), "MISSING_REQUIRED_FIELD", "custom_chain"),
    ("unknown task type", {"task_type": "poetry", "target": "x"}, "INVALID_TASK_TYPE", "task_type"),
    (
        "custom_chain a string",
        {"task_type": "custom", "target": "x", "custom_chain": "invalid_format"},
        "INVALID_CUSTOM_CHAIN",
        "custom_chain",
    ),
    (
        "custom_chain a number",
        {"task_type": "custom", "target": "x", "custom_chain": 42},
        "INVALID_CUSTOM_CHAIN",
        "custom_chain",
    ),
    (
        "custom_chain an object",
        {"task_type": "custom", "target": "x", "custom_chain": {"name": "A"}},
        "INVALID_CUSTOM_CHAIN",
        "custom_chain",
    ),
    (
        "custom_chain of strings",
        {"task_type": "custom", "target": "x", "custom_chain": ["step one", "step two"]},
        "INVALID_CUSTOM_CHAIN",
        "custom_chain[0]",
    ),
    (
        "learning_chain a string",
        {"task_type": "education", "target": "x", "learning_chain": "invalid_format"},
        "INVALID_CUSTOM_CHAIN",
        "learning_chain",
    ),
    (
        "unknown dependency",
        custom(step("a", "A", dependencies=["ghost"])),
        "INVALID_CUSTOM_CHAIN",
        None,
    ),
    ("duplicate id", custom(step("a", "A"), step("a", "B")), "INVALID_CUSTOM_CHAIN", None),
    (
        "too many steps",
        custom(*(step(f"s{i}", f"步骤{i}") for i in range(MAX_STEPS + 1))),
        "INVALID_CUSTOM_CHAIN",
        None,
    ),
    (
        "too long learning chain",
        {
            "task_type": "education",
            "target": "x",
            "learning_chain": [{"step": f"第{i}步"} for i in range(MAX_STEPS + 1)],
        },
        "INVALID_CUSTOM_CHAIN",
        None,
    ),
    (
        "invalid json_schema",
        custom(step("a", "A", validation_rules={"json_schema": {"type": "no-such-type"}})),
        "INVALID_CUSTOM_CHAIN",
        None,
    ),
    (
        "bad depth",
        {"task_type": "analysis", "target": "x", "config": {"depth": "deep"}},
        "INVALID_FIELD",
        "config.depth",
    ),
    (
        "bad language",
        {"task_type": "analysis", "target": "x", "config": {"language": "fr"}},
        "INVALID_FIELD",
        "config.language",
    ),
    (
        "too many focus areas",
        {
            "task_type": "analysis",
            "target": "x",
            "config": {"focus_areas": [f"关注点{i}" for i in range(MAX_FOCUS_AREAS + 1)]},
        },
        "INVALID_FIELD",
        "config.focus_areas",
    ),
    (
        "focus area too long",
        {
            "task_type": "analysis",
            "target": "x",
            "config": {"focus_areas": ["长" * (MAX_FOCUS_AREA_CHARS + 1)]},
        },
        "INVALID_FIELD",
        "config.focus_areas[0]",
    ),
    (
        "target too long",
        {"task_type": "analysis", "target": "长" * (MAX_TARGET_CHARS + 1)},
        "INVALID_FIELD",
        "target",
    ),
    (
        "step name too long",
        custom(step("a", "名" * (MAX_STEP_NAME_CHARS + 1))),
        "INVALID_FIELD",
        "custom_chain[0].name",
    ),
    (
        "description too long",
        custom({"id": "a", "name": "A", "description": "述" * (MAX_STEP_DESCRIPTION_CHARS + 1)}),
        "INVALID_FIELD",
        "custom_chain[0].description",
    ),
    ("list body", [{"task_type": "analysis", "target": "x"}], "INVALID_FIELD", None),
    ("string body", '{"task_type": "analysis", "target": "x"}', "INVALID_FIELD", None),
    ("null body", None, "INVALID_FIELD", None),
]


@pytest.mark.parametrize(
    ("request_body", "code", "field"),
    [pytest.param(body, code, field, id=case) for case, body, code, field in ERROR_CASES],
)
def test_error_codes(request_body: Any, code: str, field: str | None) -> None:
    response = run(request_body)

    assert response["success"] is False
    assert response["error_code"] == code
    assert set(response) >= ERROR_KEYS
    assert response["error"]
    assert "execution_results" not in response
    if field is not None:
        assert response["details"]["field"] == field


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_custom_chain_that_is_not_a_list_of_steps_says_so(language: str) -> None:
    response = run(
        {"task_type": "custom", "target": "x", "custom_chain": "invalid_format",
         "config": {"language": language}}
    )  # fmt: skip

    assert response["error_code"] == "INVALID_CUSTOM_CHAIN"
    if language == "zh":
        assert "custom_chain 必须是步骤列表" in response["error"]
        assert "字符串" in response["error"]
    else:
        assert "custom_chain must be a list of steps" in response["error"]
        assert "a string" in response["error"]
        assert not CJK.search(response["error"])


# Requests whose field error pydantic words in its own English: both languages get ours.
FIELD_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, request, what the Chinese message says, what the English one says)
    (
        "literal",
        {"task_type": "analysis", "target": "x", "config": {"depth": "deep"}},
        "应为以下之一：basic、detailed、comprehensive",
        "must be one of: basic, detailed, comprehensive",
    ),
    (
        "int parsing",
        custom(step("a", "A", max_attempts="three")),
        "应为整数",
        "must be a whole number",
    ),
    (
        "bool parsing",
        {"task_type": "analysis", "target": "x", "continue_on_failure": "perhaps"},
        "应为布尔值",
        "must be true or false",
    ),
    (
        "greater than or equal",
        custom(step("a", "A", max_attempts=0)),
        "应不小于 1",
        "must be at least 1",
    ),
    (
        "less than or equal",
        custom(step("a", "A", validation_rules={"max_similarity": 2})),
        "应不大于 1",
        "must be at most 1",
    ),
    (
        "extra field",
        custom(step("a", "A", validation_rules={"min_lenght": 10})),
        "不允许的字段",
        "not an allowed field",
    ),
    ("string type", custom({"id": "a", "name": 42}), "应为字符串", "must be a string"),
    (
        "string type at the top",
        {"task_type": "analysis", "target": 123},
        "应为字符串",
        "must be a string",
    ),
    (
        "dict type",
        {"task_type": "analysis", "target": "x", "config": "deep"},
        "应为对象",
        "must be an object",
    ),
    (
        "list type",
        {"task_type": "analysis", "target": "x", "config": {"focus_areas": 5}},
        "应为列表",
        "must be a list",
    ),
    (
        "pattern",
        custom({"id": "a b", "name": "A"}),
        "只能包含 ASCII 字母、数字和 _ . -",
        "may hold only ASCII letters, digits and _ . -",
    ),
    (
        "too many items",
        {"task_type": "analysis", "target": "x", "config": {"focus_areas": list("abcdefghijk")}},
        "超过上限 10 项",
        "more than 10 items",
    ),
    (
        "too long a string",
        {"task_type": "analysis", "target": "x" * 1001},
        "超过上限 1000 个字符",
        "longer than 1000 characters",
    ),
]
# What pydantic's own English messages say; none of it may reach a caller.
PYDANTIC_WORDS = re.compile(r"Input should|Extra inputs|String should|should have|the limit of")


@pytest.mark.parametrize(
    ("body", "zh_says", "en_says"),
    [pytest.param(body, zh, en, id=case) for case, body, zh, en in FIELD_ERRORS],
)
def test_field_errors_are_worded_wholly_in_the_sessions_language(
    body: dict[str, Any], zh_says: str, en_says: str
) -> None:
    zh = run(body)

    assert zh["error_code"] == "INVALID_FIELD", zh
    assert zh_says in zh["error"], zh["error"]
    # nothing of pydantic's English sentence: at most the field path and the allowed values
    rest = zh["error"].replace(zh["details"]["field"], "")
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+", rest), zh["error"]
    config = body.get("config", {})
    if isinstance(config, dict):  # (a config that is not an object cannot ask for English)
        en = run({**body, "config": {**config, "language": "en"}})
        assert en_says in en["error"], en["error"]
        assert not CJK.search(en["error"])
        assert not PYDANTIC_WORDS.search(en["error"]), en["error"]


def test_an_invalid_json_schema_is_explained_in_the_sessions_language() -> None:
    body = custom(step("a", "A", validation_rules={"json_schema": {"type": "no-such-type"}}))

    zh = run(body)
    en = run({**body, "config": {"language": "en"}})

    assert zh["error_code"] == en["error_code"] == "INVALID_CUSTOM_CHAIN"
    assert "json_schema" in zh["error"]
    assert not re.search(r"[A-Z][a-z]+ [a-z]+", zh["error"]), zh["error"]  # no English sentence
    assert "Unknown type" in en["error"]
    assert zh["details"]["reason"] == en["details"]["reason"]  # the validator's own words


def test_whitespace_target_is_reported_as_missing_not_as_a_pydantic_message() -> None:
    response = run({"task_type": "analysis", "target": "   ", "config": {"language": "en"}})

    assert response["error"] == "missing required field: target"


def test_cycle_error_names_the_cycle() -> None:
    response = run(
        custom(
            step("a", "A", dependencies=["c"]),
            step("b", "B", dependencies=["a"]),
            step("c", "C", dependencies=["b"]),
        )
    )

    assert response["error_code"] == "INVALID_CUSTOM_CHAIN"
    cycle = response["details"]["cycle"]
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    assert " → ".join(cycle) in response["error"]


def test_self_dependency_is_a_cycle() -> None:
    response = run(custom(step("a", "A", dependencies=["a"])))

    assert response["error_code"] == "INVALID_CUSTOM_CHAIN"
    assert response["details"]["cycle"] == ["a", "a"]


def test_unknown_capability_lists_the_known_ones() -> None:
    response = run(custom(step("a", "A", required_capabilities=["读心术"])))

    assert response["error_code"] == "INVALID_CUSTOM_CHAIN"
    assert "读心术" in response["error"]
    known = CapabilityRegistry.builtin().names()
    assert known[:10] == ("理解分析", "需求提取", "信息检索", "数据整理", "创意生成",
                          "逻辑推理", "方案设计", "风险评估", "质量验证", "结果整合")  # fmt: skip
    assert response["details"]["known"] == list(known)
    for name in known:
        assert name in response["error"]


def test_unknown_dependency_names_it_and_the_known_steps() -> None:
    response = run(custom(step("a", "A"), step("b", "B", dependencies=["ghost"])))

    assert "ghost" in response["error"]
    assert response["details"]["known_steps"] == ["a", "b"]


ERRORS_IN_BOTH_LANGUAGES = [
    {"target": "x"},
    {"task_type": "poetry", "target": "x"},
    {"task_type": "analysis", "target": "x", "config": {"depth": "deep"}},
    custom(step("a", "A", dependencies=["b"]), step("b", "B", dependencies=["a"])),
    custom(step("a", "A", required_capabilities=["mind reading"])),
]


@pytest.mark.parametrize("body", ERRORS_IN_BOTH_LANGUAGES)
def test_error_messages_are_chinese_by_default_and_english_on_request(body: dict[str, Any]) -> None:
    zh = run(body)
    en = run({**body, "config": {**body.get("config", {}), "language": "en"}})

    assert zh["error_code"] == en["error_code"]
    assert HAN.search(zh["error"])
    # capability names are Chinese proper nouns; everything else must be English
    message = en["error"]
    for name in CapabilityRegistry.builtin().names():
        message = message.replace(name, "")
    assert not CJK.search(message), en["error"]


# --- leniency ----------------------------------------------------------------------------------


def test_types_case_whitespace_and_control_characters_are_forgiven() -> None:
    response = run(
        {
            "task_type": "  ANALYSIS ",
            "target": "  是否开设\x00第二家\x07门店\x1b  ",
            "continue_on_failure": "true",
            "config": {
                "depth": " Basic ",
                "language": " ZH ",
                "execution_mode": "PARALLEL",
                "focus_areas": "租金成本, 客流，选址",
            },
        }
    )

    assert response["success"] is True, response.get("error")
    assert response["task_type"] == "analysis"
    assert response["target"] == "是否开设第二家门店"
    analysis = response["final_report"]["target_analysis"]
    assert analysis["depth"] == "basic"
    assert analysis["execution_mode"] == "parallel"
    assert analysis["focus_areas"] == ["租金成本", "客流", "选址"]
    for result in response["execution_results"]:
        assert "\x00" not in result["output"]
        for area in analysis["focus_areas"]:
            assert area in result["output"]


def test_numbers_as_strings_are_accepted() -> None:
    chain = [step("needs_json", "输出 JSON", validation_rules=UNSATISFIABLE, max_attempts="2")]

    response = run({"task_type": "custom", "target": "x", "custom_chain": chain})

    assert response["execution_results"][0]["attempts"] == 2


# --- internal errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_internal_error_never_leaks_its_detail(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, language: str
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    # deep inside the engine: every submitted output is checked here
    monkeypatch.setattr(engine, "check", explode)

    response = run(
        {"task_type": "analysis", "target": "门店选址", "config": {"language": language}}
    )

    assert response["success"] is False
    assert response["error_code"] == "INTERNAL_ERROR"
    text = json.dumps(response, ensure_ascii=False)
    assert "secret detail" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert bool(HAN.search(response["error"])) == (language == "zh")
    # ... while the operator's log keeps the whole story
    logged = [r for r in caplog.records if r.name == "taskchain" and r.exc_info]
    assert logged, "the unexpected error was not logged"
    assert "secret detail" in str(logged[0].exc_info[1])
