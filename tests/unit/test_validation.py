"""The objective checks of a step output, each rule on its own."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from taskchain.models import Feedback
from taskchain.validation import Verdict, check
from tests.factories import build_chain, custom_step

CJK = re.compile(r"[\u4e00-\u9fff]")


def verdict(
    output: str,
    *,
    language: str = "zh",
    depth: str = "detailed",
    capabilities: Sequence[str] = (),
    focus_areas: Sequence[str] = (),
    rules: Mapping[str, Any] | None = None,
    earlier: Mapping[str, str] | None = None,
    outline: bool = False,
) -> Verdict:
    """Check ``output`` as step ``b`` of a chain ``a -> b``, configured as asked."""
    extra: dict[str, object] = {"validation_rules": dict(rules)} if rules else {}
    steps = [
        {**custom_step("a", capabilities=()), "name": "Earlier step"},
        {**custom_step("b", "a", capabilities=capabilities, **extra), "name": "This step"},
    ]
    definition, registry = build_chain(
        steps=steps,
        language=language,
        depth=depth,
        focus_areas=focus_areas,
        target="a community coffee shop" if language == "en" else "社区咖啡店",
    )
    step = definition.step("b")
    assert step is not None
    return check(
        definition, step, output, registry=registry, earlier=earlier or {}, outline=outline
    )


def rule(result: Verdict, name: str) -> Feedback:
    """The one feedback item for ``name``."""
    found = [f for f in result.feedback if f.rule == name]
    assert len(found) == 1, (name, result.feedback)
    return found[0]


def units(n: int, language: str) -> str:
    """Text of exactly ``n`` content units: CJK characters or English words."""
    if language == "en":
        return " ".join(["word"] * n)
    return "字" * n


# --- length -----------------------------------------------------------------------------------

BOUNDS = {"basic": (80, 1500), "detailed": (200, 4000), "comprehensive": (400, 8000)}
LENGTH_CASES = [
    (depth, language, n, n >= low, n <= high)
    for depth, (low, high) in BOUNDS.items()
    for language in ("zh", "en")
    for n in (low - 1, low, high, high + 1)
]


@pytest.mark.parametrize(("depth", "language", "size", "min_ok", "max_ok"), LENGTH_CASES)
def test_length_bounds_by_depth_in_content_units(
    depth: str, language: str, size: int, min_ok: bool, max_ok: bool
) -> None:
    result = verdict(units(size, language), language=language, depth=depth)
    assert rule(result, "min_length").passed is min_ok
    assert rule(result, "max_length").passed is max_ok
    assert result.accepted is (min_ok and max_ok)
    failing = [f for f in result.feedback if not f.passed]
    assert all(f.severity == "error" and f.hint for f in failing)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("咖啡 shop 会员 plan", 6),  # 4 characters + 2 words
        ("price: 12.5 元/杯", 5),  # price, 12, 5, 元, 杯
        ("It's a state-of-the-art 店", 4),
    ],
)
def test_content_units_count_cjk_characters_and_latin_words(text: str, size: int) -> None:
    exact = verdict(text, rules={"min_length": size, "max_length": size})
    assert rule(exact, "min_length").passed
    assert rule(exact, "max_length").passed
    assert not rule(verdict(text, rules={"min_length": size + 1}), "min_length").passed
    assert not rule(verdict(text, rules={"max_length": size - 1}), "max_length").passed


@pytest.mark.parametrize(
    ("size", "min_ok", "max_ok"),
    [(9, False, True), (10, True, True), (20, True, True), (21, True, False)],
)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_validation_rules_override_the_depth_bounds(
    language: str, size: int, min_ok: bool, max_ok: bool
) -> None:
    result = verdict(
        units(size, language),
        language=language,
        depth="comprehensive",
        rules={"min_length": 10, "max_length": 20},
    )
    assert rule(result, "min_length").passed is min_ok
    assert rule(result, "max_length").passed is max_ok


@pytest.mark.parametrize("depth", list(BOUNDS))
def test_max_length_alone_below_the_depth_minimum_lowers_the_minimum(depth: str) -> None:
    # A step that asks for a short answer (a title, a one-liner) can be satisfied.
    fits = verdict(units(30, "zh"), depth=depth, rules={"max_length": 30})
    assert fits.accepted, fits.feedback
    too_long = verdict(units(31, "zh"), depth=depth, rules={"max_length": 30})
    assert not rule(too_long, "max_length").passed


def test_min_length_alone_above_the_depth_maximum_raises_the_maximum() -> None:
    result = verdict(units(2000, "zh"), depth="basic", rules={"min_length": 2000})
    assert result.accepted, result.feedback


def test_outline_short_output_min_length_is_info_only_and_accepted() -> None:
    short = units(30, "zh")
    judged = verdict(short)
    assert not judged.accepted
    outline = verdict(short, outline=True)
    feedback = rule(outline, "min_length")
    assert (feedback.passed, feedback.severity) == (False, "info")
    assert outline.accepted


def test_outline_does_not_excuse_an_output_over_the_maximum() -> None:
    result = verdict(units(4001, "zh"), outline=True)
    assert rule(result, "min_length").severity == "error"
    assert not rule(result, "max_length").passed
    assert not result.accepted


# --- required sections ------------------------------------------------------------------------

CRITERIA = "\n- 每月至少 50 位会员\n- 三个月内回本\n"


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("zh", "## 核心问题"),
        ("zh", "### Core question"),  # the other language
        ("zh", "**核心问题**"),
        ("zh", "**核心问题**："),
        ("zh", "核心问题：会员制能否提高复购"),
        ("zh", "【核心问题】会员制能否提高复购"),
        ("zh", "## 2. 核心问题"),
        ("zh", "## 问题陈述"),  # an alias
        ("en", "## Core question"),
        ("en", "## 核心问题"),
        ("en", "Core question: can a subscription raise repeat visits"),
        ("en", "### 1. CORE QUESTION"),
    ],
)
def test_required_section_is_found_in_any_accepted_form(language: str, heading: str) -> None:
    output = f"开头说明\n\n{heading}\n\n会员制能否提高复购\n\n## 成功标准{CRITERIA}"
    result = verdict(output, language=language, capabilities=["理解分析"])
    assert rule(result, "section:core_question").passed
    assert rule(result, "section:success_criteria").passed


@pytest.mark.parametrize(("language", "title"), [("zh", "## 核心问题"), ("en", "## Core question")])
def test_missing_section_fails_with_a_hint_naming_the_heading(language: str, title: str) -> None:
    output = f"## 成功标准{CRITERIA}\n核心问题在正文里提到但没有标题"
    result = verdict(output, language=language, capabilities=["理解分析"])
    feedback = rule(result, "section:core_question")
    assert not feedback.passed
    assert feedback.severity == "error"
    assert title in feedback.hint
    assert not result.accepted


def test_required_sections_override_replaces_the_capability_sections() -> None:
    rules = {"required_sections": ["市场规模", "Pricing"]}
    output = "## 市场规模\n约 3000 户\n\n## pricing\n每月 30 元"
    result = verdict(output, capabilities=["理解分析"], rules=rules)
    assert rule(result, "section:custom_0").passed
    assert rule(result, "section:custom_1").passed
    assert not [f for f in result.feedback if f.rule == "section:core_question"]
    missing = verdict("## 市场规模\n约 3000 户", rules=rules)
    assert "## Pricing" in rule(missing, "section:custom_1").hint


# --- focus areas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "area", "output", "covered"),
    [
        ("zh", "成本", "成本是主要顾虑", True),
        ("zh", "成本", "价格是主要顾虑", False),
        ("en", "Cost", "the COST is what worries us", True),
        ("en", "customer retention", "Customer Retention matters most", True),
        ("en", "customer retention", "we care about the retention of customers", True),
        ("en", "customer retention", "we care about customers", False),
        ("en", "cost", "nothing about money here", False),
    ],
)
def test_focus_area_must_be_named(language: str, area: str, output: str, covered: bool) -> None:
    result = verdict(output, language=language, focus_areas=[area])
    feedback = rule(result, "focus_area")
    assert feedback.passed is covered
    assert area in feedback.message
    if not covered:
        assert area in feedback.hint


def test_each_focus_area_is_checked_on_its_own() -> None:
    result = verdict("谈到了成本，也谈到了口碑", focus_areas=["成本", "口碑", "选址"])
    assert [f.passed for f in result.feedback if f.rule == "focus_area"] == [True, True, False]


def test_focus_areas_can_be_exempted_by_the_step() -> None:
    result = verdict("无关内容", focus_areas=["成本"], rules={"require_focus_areas": False})
    assert not [f for f in result.feedback if f.rule == "focus_area"]


# --- not_repeat -------------------------------------------------------------------------------

EARLIER = "\n".join(
    f"- 第 {i} 点，社区咖啡店的第 {i} 类顾客每周来店 {i + 1} 次，主要购买美式和拿铁。"
    for i in range(1, 16)
)


@pytest.mark.parametrize(
    ("output", "repeat"),
    [
        (EARLIER, True),
        ("## 新标题\n\n" + EARLIER + "\n再补充一句完全不同的话来掩饰复制。", True),
        ("\n".join(reversed(EARLIER.splitlines())), True),
        (EARLIER.replace("- ", "* "), True),  # other bullets, same sentences
        (
            "\n".join(
                f"- 方案 {i}，会员月费定为 {20 + i} 元，赠送 {i} 杯饮品并在周末双倍积分。"
                for i in range(1, 16)
            ),
            False,
        ),
    ],
)
def test_not_repeat_flags_a_near_copy_of_an_earlier_output(output: str, repeat: bool) -> None:
    feedback = rule(verdict(output, earlier={"a": EARLIER}), "not_repeat")
    assert feedback.passed is not repeat
    if repeat:
        assert "Earlier step" in feedback.message
        assert feedback.hint


def test_not_repeat_passes_without_earlier_outputs() -> None:
    assert rule(verdict(EARLIER), "not_repeat").passed


def test_not_repeat_limit_is_the_steps_max_similarity() -> None:
    half = (
        "\n".join(EARLIER.splitlines()[:8])
        + "\n"
        + "\n".join(
            f"- 新观点 {i}，店员会在会员到店时主动推荐季节限定饮品以提高客单价。" for i in range(8)
        )
    )
    assert rule(verdict(half, earlier={"a": EARLIER}), "not_repeat").passed
    strict = verdict(half, earlier={"a": EARLIER}, rules={"max_similarity": 0.2})
    assert not rule(strict, "not_repeat").passed


# --- json_schema ------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["score", "reasons"],
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 10},
        "reasons": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
}


@pytest.mark.parametrize(
    ("output", "passed", "says"),
    [
        ('{"score": 7, "reasons": ["复购率高"]}', True, "符合"),
        ('说明如下\n```json\n{"score": 7, "reasons": ["复购率高"]}\n```\n以上。', True, "符合"),
        ('```\n{"score": 7, "reasons": ["复购率高"]}\n```', True, "符合"),
        ("分数七分，理由是复购率高", False, "不是有效的 JSON"),
        ('{"score": 7, "reasons": [', False, "不是有效的 JSON"),
        ('{"score": "high", "reasons": ["复购率高"]}', False, "不符合"),
        ('{"score": 7}', False, "不符合"),
        ('```json\n{"score": 11, "reasons": ["x"]}\n```', False, "不符合"),
    ],
)
def test_json_schema(output: str, passed: bool, says: str) -> None:
    feedback = rule(verdict(output, rules={"json_schema": SCHEMA}), "json_schema")
    assert feedback.passed is passed
    assert says in feedback.message
    assert bool(feedback.hint) is not passed


def test_no_json_check_without_a_schema() -> None:
    assert not [f for f in verdict("{}").feedback if f.rule == "json_schema"]


# --- capability checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "count", "passed"),
    [
        ("- 每月至少 50 位会员\n- 三个月内回本", 2, True),
        ("1. 每月至少 50 位会员\n2. 三个月内回本\n3. 差评率不升高", 3, True),
        ("（1）每月至少 50 位会员\n（2）三个月内回本", 2, True),
        ("- 每月至少 50 位会员", 1, False),
        ("每月至少 50 位会员，三个月内回本。", 0, False),  # prose is not a list
    ],
)
def test_min_items_counts_list_items_under_the_section(body: str, count: int, passed: bool) -> None:
    output = (
        f"## 核心问题\n会员制能否提高复购\n\n## 成功标准\n{body}\n\n## 其他\n- 不计入\n- 不计入"
    )
    feedback = rule(verdict(output, capabilities=["理解分析"]), "success_criteria_listed")
    assert feedback.passed is passed
    assert f"（{count}/2）" in feedback.message
    assert bool(feedback.hint) is not passed


def test_min_items_fails_when_the_section_is_missing() -> None:
    feedback = rule(
        verdict("## 核心问题\n- 一\n- 二", capabilities=["理解分析"]), "success_criteria_listed"
    )
    assert not feedback.passed
    assert "成功标准" in feedback.hint


@pytest.mark.parametrize(
    ("language", "text", "count", "passed"),
    [
        ("zh", "因为会员复购更高，所以值得试点。", 2, True),
        ("zh", "如果月费过高，那么会员会流失，因此要定价谨慎。", 3, True),
        ("zh", "因为会员复购更高。", 1, False),
        (
            "en",
            "Because members return more often, the pilot is worth it; therefore we go.",
            2,
            True,
        ),
        ("en", "Members return more often, as a result the pilot pays off. Hence we go.", 2, True),
        ("en", "Members return more often because they like it.", 1, False),
        ("en", "The staff are enthusiastic because members return.", 1, False),
        ("en", "The whence of the idea is unclear because nobody wrote it down.", 1, False),
    ],
)
def test_keywords_check_counts_distinct_reasoning_words(
    language: str, text: str, count: int, passed: bool
) -> None:
    feedback = rule(
        verdict(text, language=language, capabilities=["逻辑推理"]), "reasoning_explicit"
    )
    assert feedback.passed is passed
    assert f"{count}/2" in feedback.message
    assert bool(feedback.hint) is not passed


def test_each_capability_adds_its_own_checks() -> None:
    result = verdict("无", capabilities=["方案设计", "风险评估"])
    rules = {f.rule for f in result.feedback}
    assert {"options_compared", "plan_steps_listed", "risks_listed", "risks_rated"} <= rules
    assert {
        "section:options",
        "section:implementation_plan",
        "section:risks",
        "section:mitigations",
    } <= rules


# --- language of the feedback -----------------------------------------------------------------

MIXED = "## 核心问题\n- only one\n\n" + units(10, "en")


def test_feedback_is_in_chinese_for_chinese_sessions() -> None:
    result = verdict(MIXED, capabilities=["理解分析", "逻辑推理"], focus_areas=["成本"])
    assert all(CJK.search(f.message) for f in result.feedback), result.feedback
    assert all(CJK.search(f.hint) for f in result.feedback if f.hint)


def test_feedback_is_in_english_for_english_sessions() -> None:
    result = verdict(
        MIXED.replace("核心问题", "Core question"),
        language="en",
        capabilities=["理解分析", "逻辑推理"],
        focus_areas=["cost"],
        earlier={"a": "An earlier step wrote this sentence about the shop."},
    )
    assert all(not CJK.search(f.message) for f in result.feedback), result.feedback
    assert all(not CJK.search(f.hint) for f in result.feedback)
    assert any(f.hint for f in result.feedback)
