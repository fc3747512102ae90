"""The rules a step states and the verdicts on its output: each rule on its own."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from taskchain.errors import TaskchainError
from taskchain.models import Feedback
from taskchain.templates import TEMPLATE_KEYS
from taskchain.validation import Verdict, check, rules_for
from tests.factories import build_chain, custom_step

CJK = re.compile(r"[\u4e00-\u9fff]")
TARGET_ZH = "社区咖啡店是否推出会员订阅制"
TARGET_EN = "whether a community coffee shop should launch a monthly membership"


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
    target: str | None = None,
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
        target=target or (TARGET_EN if language == "en" else TARGET_ZH),
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


def failed(result: Verdict) -> set[str]:
    """The ids of the rules that refused the output."""
    return {f.rule for f in result.feedback if not f.passed and f.severity == "error"}


# An honest Chinese answer about the target, with concrete content in every sentence.
GOOD_ZH = """## 核心问题
社区咖啡店要判断：推出 199 元的月度会员订阅制，能否在不亏本的前提下把老顾客每周到店次数从 2 次提到 3 次。

## 成功标准
- 三个月内付费会员达到 120 人
- 会员单杯毛利不低于 6 元
- 非会员客流不下降

## 成本
按每杯豆子、牛奶和杯子约 7 元计算，会员每月平均喝 22 杯，199 元的月费刚好覆盖原料，房租和人工要靠会员带来的糕点加购来补。

## 客户留存
附近写字楼的上班族占客流六成，他们工作日早上固定买一杯拿铁；月卡把这种习惯锁定下来，流失时也能从续费率上第一时间看到。
"""


def test_an_honest_answer_passes_every_rule() -> None:
    result = verdict(GOOD_ZH, capabilities=("理解分析",), focus_areas=("成本", "客户留存"))
    assert result.accepted, [f for f in result.feedback if not f.passed]


@pytest.mark.parametrize("template", TEMPLATE_KEYS)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_feedback_rule_is_one_the_step_stated(template: str, language: str) -> None:
    # GIVEN any template step, and an output that fails nearly everything
    definition, registry = build_chain(
        template, language=language, focus_areas=("成本",) if language == "zh" else ("cost",)
    )
    for step in definition.steps:
        stated = {r.rule for r in rules_for(definition, step, registry)}
        result = check(
            definition, step, "随便写写。", registry=registry, earlier={"x": "随便写写。"}
        )
        # THEN every verdict, passed or failed, is on a rule the step stated up front
        assert {f.rule for f in result.feedback} <= stated
        assert not result.accepted


# --- length ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "low", "high"),
    [("basic", 60, 1500), ("detailed", 150, 4000), ("comprehensive", 300, 8000)],
)
def test_length_bounds_by_depth(depth: str, low: int, high: int) -> None:
    assert rule(verdict("字" * low, depth=depth), "min_length").passed
    assert not rule(verdict("字" * (low - 1), depth=depth), "min_length").passed
    assert rule(verdict("字" * high, depth=depth), "max_length").passed
    assert not rule(verdict("字" * (high + 1), depth=depth), "max_length").passed


def test_a_step_may_override_the_bounds() -> None:
    result = verdict("字" * 40, rules={"min_length": 30, "max_length": 50})
    assert rule(result, "min_length").passed
    assert rule(result, "max_length").passed


def test_a_short_output_says_how_much_is_missing() -> None:
    found = rule(verdict("太短了。"), "min_length")
    assert "3 个单位" in found.message
    assert "147" in found.hint


# --- sections and items ----------------------------------------------------------------------


def test_a_missing_section_is_named_with_the_ways_to_title_it() -> None:
    found = rule(
        verdict("## 核心问题\n要不要做月卡。", capabilities=("理解分析",)),
        "section:success_criteria",
    )
    assert not found.passed
    assert "成功标准" in found.message
    assert "## 成功标准" in found.hint


def test_a_heading_with_nothing_under_it_is_refused() -> None:
    result = verdict("## 核心问题\n\n## 成功标准\n略\n", capabilities=("理解分析",))
    assert not rule(result, "section:core_question").passed
    assert not rule(result, "section:success_criteria").passed


def test_an_item_count_says_what_was_found_and_what_is_missing() -> None:
    text = "## 核心问题\n要不要做月卡，做了能否赚钱。\n\n## 成功标准\n- 三个月 120 名会员\n"
    found = rule(verdict(text, capabilities=("理解分析",)), "success_criteria_listed")
    assert not found.passed
    assert "找到 1 条" in found.message
    assert "三个月 120 名会员" in found.message
    assert "还需 1 条" in found.message


def test_an_item_count_quotes_the_line_that_ended_the_section() -> None:
    text = "## 成功标准\n- 三个月 120 名会员\n\n## 补充说明\n- 单杯毛利不低于 6 元\n"
    found = rule(verdict(text, capabilities=("理解分析",)), "success_criteria_listed")
    assert "## 补充说明" in found.message


def test_required_sections_override_replaces_the_capability_sections() -> None:
    result = verdict("## 结论\n会员制值得先试点三个月。", rules={"required_sections": ["结论"]})
    assert rule(result, "section:custom_0").passed
    assert not [f for f in result.feedback if f.rule.startswith("section:core")]


@pytest.mark.parametrize(
    ("body", "passed"),
    [
        ("1. 前提：老客每周来 2 次\n2. 前提：月卡按 22 杯定价\n→ 所以月卡会让到店次数上升", True),
        ("老客增加 → 糕点加购增加 → 毛利覆盖房租", True),
        ("如果月费超过 200 元，那么学生客群会流失。价格太高导致转化下降。", True),
        ("Because regulars come twice a week, a pass locks them in, so revenue rises.", True),
        ("会员制很好。我们应该做。", False),
    ],
)
def test_reasoning_is_read_from_its_structure(body: str, passed: bool) -> None:
    text = f"## 推理过程\n{body}\n\n## 推理结论\n先试点三个月，再决定是否推广。"
    assert rule(verdict(text, capabilities=("逻辑推理",)), "reasoning_shown").passed is passed


def test_risks_are_rated_for_likelihood_and_impact_in_a_table() -> None:
    text = (
        "## 风险清单\n| 风险 | 可能性 | 影响 |\n|---|---|---|\n| 豆价上涨 | 中 | 高 |\n"
        "| 店员流失 | 高 | 中 |\n| 会员薅羊毛 | 低 | 中 |\n\n## 应对措施\n- 与供应商签年约锁价\n"
    )
    result = verdict(text, capabilities=("风险评估",))
    assert rule(result, "risks_listed").passed
    assert rule(result, "risks_rated").passed


# --- substance --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "discussed"),
    [
        ("成本方面，按每杯原料 7 元、每月 22 杯计，199 元月费只够覆盖原料。", True),
        ("## 成本\n原料每杯 7 元，月费 199 元，房租要靠糕点加购来补。", True),
        ("- 成本：原料每杯 7 元，会员每月喝 22 杯，月费只覆盖原料。", True),
        ("本部分涉及成本、客户留存等方面，需要综合考虑。", False),
        ("在成本方面，我们需要综合考虑多方面因素，确保方案的可行性。", False),
        ("店里每天卖 180 杯拿铁，周末翻倍。当然，这也涉及成本和客户留存。", False),
        # a label naming both areas opens what is said of both
        (
            "**成本与客户留存：** 月费 199 元只够覆盖原料；写字楼上班族占六成，续费率低于七成就停推。",
            True,
        ),
        ("**成本与客户留存：** 两方面都需要综合考虑，确保方案可行。", False),
        # a label alone on its line, then the paragraph about it
        ("成本：\n原料每杯 7 元，会员每月喝 22 杯，199 元月费只够覆盖原料。", True),
        ("成本：\n\n需要综合考虑多方面因素，确保方案可行。", False),
        # an outline heading (公文 style) whose numbered points discuss it
        (
            "（三）第三阶段：成本测算与定价核对（第三周到第四周，约十六小时）\n\n1. 原料每杯 7 元，会员月均 22 杯。\n\n"
            "2. 199 元月费只够覆盖原料，房租要靠糕点加购来补。\n\n（四）第四阶段：试点",
            True,
        ),
    ],
)
def test_a_focus_area_must_be_discussed_not_just_named(text: str, discussed: bool) -> None:
    result = verdict(text, focus_areas=("成本", "客户留存"))
    assert next(f for f in result.feedback if f.rule == "focus_area").passed is discussed


def test_a_focus_area_named_by_most_of_its_words_counts() -> None:
    text = "时间安排上，每周一、三、五晚上各学 90 分钟，周末做一个 3 小时的小项目。"
    result = verdict(text, focus_areas=("学习时间安排",))
    assert rule(result, "focus_area").passed


def test_a_chinese_focus_area_of_two_parts_is_named_by_either_part() -> None:
    # "基本步型与重心转换": the junction "型与重" is no word of it; "重心转换" names half of it
    text = "每天练 20 分钟行步，目的是练重心转换：先移重心、再提脚，3 米内来回 10 趟。"
    result = verdict(text, focus_areas=("基本步型与重心转换",))
    assert rule(result, "focus_area").passed, result.feedback


def test_a_chinese_focus_area_is_named_by_half_of_its_words_not_by_one() -> None:
    # "摇青与做青的火候判断" has four words (摇青, 做青, 火候, 判断): two of them name it
    text = (
        "摇青火候的停机预判：每次停机前先写下“该停/再等”和理由，连续 10 次里至少 8 次与师傅一致。"
    )
    assert rule(verdict(text, focus_areas=("摇青与做青的火候判断",)), "focus_area").passed
    # but one word of a two-word name does not: "客户" alone is not "客户留存"
    text = "客户多为写字楼上班族，工作日早上 8 点到 9 点占全天销量的四成。"
    assert not rule(verdict(text, focus_areas=("客户留存",)), "focus_area").passed


def test_each_focus_area_is_judged_on_its_own() -> None:
    result = verdict(GOOD_ZH.split("## 客户留存")[0], focus_areas=("成本", "客户留存"))
    verdicts = {
        f.message.split("」")[0]: f.passed for f in result.feedback if f.rule == "focus_area"
    }
    assert verdicts == {"关注点「成本": True, "没有提到关注点「客户留存": False}


@pytest.mark.parametrize("discussed", [True, False])
def test_a_focus_area_heading_a_table_column_is_discussed_by_its_cells(discussed: bool) -> None:
    # A comparison table with one column per focus area: the column is the passage about it.
    cells = (
        ["199 元月费只够覆盖原料", "每杯原料约 7 元，会员月均 22 杯"]
        if discussed
        else ["需要考虑", "待定"]
    )
    text = (
        "| 维度 | 成本 | 客户留存 |\n|---|---|---|\n"
        f"| 试点门店 | {cells[0]} | 写字楼上班族占六成，月卡锁定工作日早上的拿铁 |\n"
        f"| 推广期 | {cells[1]} | 续费率低于七成就停止推广 |\n"
    )
    result = verdict(text, focus_areas=("成本", "客户留存"))
    verdicts = [f.passed for f in result.feedback if f.rule == "focus_area"]
    assert verdicts == [discussed, True], result.feedback


def test_focus_areas_can_be_exempted_by_the_step() -> None:
    result = verdict(GOOD_ZH, rules={"require_focus_areas": False}, focus_areas=("外卖",))
    assert not [f for f in result.feedback if f.rule == "focus_area"]


def test_an_answer_about_another_subject_is_refused_as_such() -> None:
    other = "一家社区书店要不要开设儿童阅读课：每周六上午两节，每节 45 分钟，收费 60 元。"
    found = rule(verdict(other), "on_topic")
    assert not found.passed
    assert "别的对象" in found.message


def test_a_later_step_that_carries_on_from_the_earlier_ones_is_on_topic() -> None:
    # GIVEN an earlier step about the shop, and a later one that never repeats the target's name
    earlier = {"a": "老周咖啡的拿铁每杯 22 元，写字楼上班族占六成，月卡定价 199 元。"}
    later = (
        "老周咖啡的拿铁销量在月卡推出后增加两成；上班族早上排队时间从 6 分钟降到 3 分钟，"
        "月卡续费率 70%，拿铁和糕点的组合最受上班族欢迎。"
    )
    assert rule(verdict(later, earlier=earlier), "on_topic").passed


def test_generic_filler_is_refused_and_quoted() -> None:
    filler = (
        "我们需要综合考虑多方面因素。要全面提升整体水平，进一步优化各个环节。"
        "同时要高度重视，统筹兼顾，确保取得更好的效果。社区咖啡店的会员订阅制很重要。"
    )
    found = rule(verdict(filler), "no_filler")
    assert not found.passed
    assert "需要综合考虑多方面因素" in found.message


def test_english_filler_is_refused() -> None:
    filler = (
        "We should take a holistic view of all the factors. It is important to consider "
        "various aspects and ensure the best possible outcomes for everyone involved."
    )
    assert not rule(verdict(filler, language="en"), "no_filler").passed


def test_the_same_sentence_twice_is_refused() -> None:
    text = GOOD_ZH + "\n## 补充\n附近写字楼的上班族占客流六成，他们工作日早上固定买一杯拿铁。\n"
    found = rule(verdict(text), "no_internal_repeat")
    assert not found.passed
    assert "上班族占客流六成" in found.message


def test_one_paragraph_under_every_heading_is_refused() -> None:
    paragraph = "社区咖啡店的会员订阅制需要平衡价格、成本与顾客习惯，按每杯 7 元原料和每月 22 杯测算，月费应在 180 到 220 元之间，{}。"
    text = "\n\n".join(
        f"## {title}\n{paragraph.format(tail)}"
        for title, tail in (("核心问题", "先试点"), ("成功标准", "再推广"), ("需求清单", "后复盘"))
    )
    assert not rule(verdict(text), "no_internal_repeat").passed


def test_the_wrong_language_is_refused_names_aside() -> None:
    english = (
        "The shop should launch a monthly pass at 199 yuan, because regulars come twice a week."
    )
    assert not rule(verdict(english), "language").passed
    assert rule(verdict("用 Excel 和 Python 算出 KPI：会员续费率 70%。"), "language").passed


def test_a_reworded_copy_of_an_earlier_step_is_refused() -> None:
    earlier = {"a": GOOD_ZH}
    reworded = GOOD_ZH.replace("社区咖啡店要判断", "需要判断的是").replace("按每杯", "若每杯")
    found = rule(verdict(reworded, earlier=earlier), "not_repeat")
    assert not found.passed
    assert "Earlier step" in found.message


def test_an_honest_later_step_is_no_copy() -> None:
    later = (
        "## 推理过程\n因为上班族占客流六成，月卡锁定工作日早上的那一杯，所以客单稳定。\n"
        "如果续费率低于 50%，那么月卡只是在给老顾客打折。"
    )
    assert rule(verdict(later, earlier={"a": GOOD_ZH}), "not_repeat").passed


def test_a_step_may_switch_new_rules_off() -> None:
    result = verdict(
        "Totally unrelated English words about trains.",
        rules={"skip_rules": ["on_topic", "language", "no_filler"], "min_length": 1},
    )
    assert {"on_topic", "language", "no_filler"}.isdisjoint({f.rule for f in result.feedback})
    assert result.accepted


def test_an_outline_is_judged_on_its_structure_only() -> None:
    outline = "## 核心问题\n- 待回答：核心问题是什么？\n\n## 成功标准\n1. （待填写第 1 项）\n2. （待填写第 2 项）\n"
    result = verdict(outline, capabilities=("理解分析",), focus_areas=("成本",), outline=True)
    assert result.accepted
    assert rule(result, "focus_area").severity == "info"


# --- JSON steps -------------------------------------------------------------------------------

SCHEMA = {"type": "object", "required": ["score"], "properties": {"score": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("output", "passed"),
    [
        ('{"score": 3}', True),
        ('```json\n{"score": 3}\n```', True),
        ('{"score": "x"}', False),
        ("x", False),
    ],
)
def test_json_schema(output: str, passed: bool) -> None:
    result = verdict(output, rules={"json_schema": SCHEMA, "min_length": 1})
    assert rule(result, "json_schema").passed is passed
    assert "no_filler" not in {f.rule for f in result.feedback}  # JSON is not prose


@pytest.mark.parametrize(
    ("schema", "said"),
    [
        ({"type": "nope"}, "type 的值不是 JSON Schema 的类型"),
        ({"type": "object", "required": "score"}, "required 应为数组"),
        ({"type": "string", "minLength": "x"}, "minLength 应为数字"),
    ],
)
def test_an_invalid_json_schema_is_explained_in_chinese_words(
    schema: dict[str, Any], said: str
) -> None:
    with pytest.raises(TaskchainError) as caught:
        build_chain(steps=[custom_step("a", validation_rules={"json_schema": schema})])

    message = caught.value.message("zh")
    assert said in message, message
    # the validator's own words stay in details.reason, and only there
    assert caught.value.details["reason"] not in message


# --- language of the feedback -------------------------------------------------------------------


def test_feedback_is_wholly_in_the_sessions_language() -> None:
    zh = verdict("too short", capabilities=("理解分析",), focus_areas=("成本",))
    en = verdict("too short", language="en", capabilities=("理解分析",), focus_areas=("cost",))
    assert all(CJK.search(f.message) for f in zh.feedback)
    assert not any(CJK.search(f.message + f.hint) for f in en.feedback if f.rule != "on_topic")


def test_a_rule_that_cannot_be_switched_off_is_named_in_the_error() -> None:
    from taskchain.errors import ChainError

    with pytest.raises(ChainError) as caught:
        verdict("x", rules={"skip_rules": ["min_length", "on_topic"]})
    assert caught.value.details["unknown"] == ["min_length"]
    assert "min_length" in str(caught.value)


# --- concrete: a share of the text in sentences with a figure, a name or an example -----------

VAGUE_EN = """## Core question
The question is whether a community coffee shop should launch a monthly membership in a way that
works well for everyone involved and brings lasting value over time.

## Success criteria
Success means the membership is well received by customers, supports the business in a
sustainable way and fits the values of the shop and its community going forward.
"""
SPECIFIC_EN = VAGUE_EN.replace(
    "brings lasting value over time.",
    "brings lasting value over time: a $29 plan must reach 120 members by March to cover the "
    "two extra baristas it needs.",
)


def test_an_answer_without_a_figure_name_or_example_is_refused_as_not_concrete() -> None:
    result = verdict(VAGUE_EN, language="en", rules={"min_length": 1})

    feedback = rule(result, "concrete")
    assert not feedback.passed
    assert not result.accepted
    assert feedback.message.startswith("sentences with a figure, a name or an example are 0% of")
    assert "; sentences without any, e.g. '" in feedback.message  # it quotes what to fix
    assert "figures" in (feedback.hint or "")


def test_one_specific_sentence_in_a_short_answer_makes_it_concrete() -> None:
    result = verdict(SPECIFIC_EN, language="en", rules={"min_length": 1})

    assert rule(result, "concrete").passed


def test_a_figure_in_the_subjects_own_name_makes_no_sentence_concrete() -> None:
    # "2025" belongs to the subject's name: repeating the name states no figure
    target = "瑞幸咖啡2025年进入美国纽约市场的决策"
    vague = (
        f"围绕{target}，需要综合考虑多方面的信息。{target}具有重要意义，需要结合市场情况进行分析。"
        f"总体来看，{target}呈现出机遇与挑战并存的趋势，还需要进一步研究。"
    )
    result = verdict(vague, target=target, rules={"min_length": 1})
    assert not rule(result, "concrete").passed
    assert not rule(result, "no_filler").passed
    # AND a figure of its own still counts, next to the name
    specific = verdict(f"{target}的首批门店预计 3 家，选址在曼哈顿中城。", target=target,
                       rules={"min_length": 1})  # fmt: skip
    assert rule(specific, "concrete").passed


def test_concrete_is_stated_in_the_rules_and_a_step_may_switch_it_off() -> None:
    stated = verdict(GOOD_ZH)
    assert rule(stated, "concrete").passed
    result = verdict(VAGUE_EN, language="en", rules={"min_length": 1, "skip_rules": ["concrete"]})
    assert "concrete" not in {f.rule for f in result.feedback}


def test_english_feedback_words_a_count_of_one_in_the_singular() -> None:
    # GIVEN an English answer one unit short of a step's minimum
    result = verdict("Membership pricing needs work", language="en", rules={"min_length": 5})
    # THEN the feedback says "1 unit", never "1 units"
    length = rule(result, "min_length")
    assert "1 unit short" in (length.hint or "")
    assert not [
        f.message
        for f in result.feedback
        if re.search(r"\b1 (?:units|words|items)\b", f.message + (f.hint or ""))
    ]
