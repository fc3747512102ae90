"""The capability registry: the ten standard capabilities and the template ones, lookup, inline."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest

from taskchain.capabilities import CapabilityRegistry, inline_capability
from taskchain.errors import ChainError
from taskchain.guidance import guide
from taskchain.limits import MAX_CHECKLIST_ITEMS, MAX_SECTIONS_PER_CAPABILITY
from taskchain.models import Capability, CheckSpec
from taskchain.validation import check
from tests.factories import build_chain, custom_step, passing_output, start_chain

CANONICAL = (
    "理解分析",
    "需求提取",
    "信息检索",
    "数据整理",
    "创意生成",
    "逻辑推理",
    "方案设计",
    "风险评估",
    "质量验证",
    "结果整合",
)
# The capabilities of the creative, education and research template steps, after the standard ones.
TEMPLATE_ONLY = (
    "灵感收集",
    "对比评估",
    "方案优化",
    "学情诊断",
    "路径规划",
    "知识讲解",
    "练习设计",
    "问题界定",
    "方法设计",
)
REGISTRY = CapabilityRegistry.builtin()
BUILTIN = tuple(REGISTRY)
CJK = re.compile(r"[\u4e00-\u9fff]")


def by_name(name: str) -> Capability:
    return next(c for c in BUILTIN if c.name == name)


def test_builtin_has_the_ten_standard_capabilities_first_in_order() -> None:
    assert REGISTRY.names()[: len(CANONICAL)] == CANONICAL
    assert REGISTRY.names() == (*CANONICAL, *TEMPLATE_ONLY)
    assert len(REGISTRY) == len(CANONICAL) + len(TEMPLATE_ONLY) == 19
    assert all(c.builtin for c in REGISTRY)


def test_every_template_step_uses_builtin_capabilities() -> None:
    from taskchain.templates import load_template

    used = {
        name
        for task_type in ("analysis", "creative", "education", "research")
        for language in ("zh", "en")
        for step in load_template(task_type).step_specs(language)
        for name in step.capabilities
    }
    assert used
    assert all(REGISTRY.resolve(name).builtin for name in used)
    # The nine capabilities after the standard ten exist for the template steps.
    assert {REGISTRY.resolve(name).name for name in used} >= set(TEMPLATE_ONLY)


def test_builtin_is_loaded_once() -> None:
    assert CapabilityRegistry.builtin() is CapabilityRegistry.builtin()


@pytest.mark.parametrize("capability", BUILTIN, ids=lambda c: c.key)
def test_capability_guidance_is_complete_in_both_languages(capability: Capability) -> None:
    assert CJK.search(capability.purpose.zh)
    assert capability.purpose.en
    assert not CJK.search(capability.purpose.en)
    for items, chinese in ((capability.checklist.zh, True), (capability.checklist.en, False)):
        assert 3 <= len(items) <= 6
        assert len(set(items)) == len(items)
        for item in items:
            assert item.strip() == item
            assert item
            assert bool(CJK.search(item)) is chinese, item
    # Built-in capabilities stay within the limits inline ones are held to.
    assert 1 <= len(capability.sections) <= MAX_SECTIONS_PER_CAPABILITY
    # No two checks of one kind judge the same section: the second would only repeat the first.
    assert len({(check.kind, check.section) for check in capability.checks}) == len(
        capability.checks
    )


@pytest.mark.parametrize("capability", BUILTIN, ids=lambda c: c.key)
def test_builtin_checklist_questions_have_no_placeholders(capability: Capability) -> None:
    # The target is named once, in the instructions' goal line, not in every question; and a
    # placeholder (a misspelt {goal} as much as {target}) would only clutter the question.
    for item in (*capability.checklist.zh, *capability.checklist.en):
        fields = {f for _, f, _, _ in string.Formatter().parse(item) if f is not None}
        assert fields == set(), item
        assert "{" not in item, item
        assert "}" not in item, item


def test_section_keys_are_unique_across_capabilities() -> None:
    keys = [s.key for c in BUILTIN for s in c.sections]
    assert [k for k, n in Counter(keys).items() if n > 1] == []


def test_titles_within_a_capability_identify_one_section() -> None:
    # Titles and aliases are matched against the model's headings; within a capability a
    # shared one would be ambiguous.
    for capability in BUILTIN:
        names = Counter(n.casefold() for s in capability.sections for n in s.names())
        assert [h for h, n in names.items() if n > 1] == [], capability.name


@pytest.mark.parametrize(
    "pair",
    [
        ("方案设计", "方案优化"),
        ("理解分析", "问题界定"),
        ("需求提取", "学情诊断"),
        ("信息检索", "方法设计"),
        ("结果整合", "练习设计"),
        ("方案设计", "对比评估"),
    ],
)
def test_a_step_combining_capabilities_that_share_a_section_title_can_pass(
    pair: tuple[str, str],
) -> None:
    # GIVEN a custom step whose two capabilities ask for sections of the same title
    definition, registry = build_chain(steps=[custom_step("s", capabilities=pair)])
    session = start_chain(definition)
    guidance = guide(session, "s", registry)

    # THEN the shared section is asked for once, and an answer written to the guidance passes
    assert len(guidance.required_sections) == len(set(guidance.required_sections))
    result = check(
        definition,
        definition.steps[0],
        passing_output(session, "s", registry),
        registry=registry,
        earlier={},
    )
    assert result.accepted, [f for f in result.feedback if not f.passed]


def test_check_rules_are_unique() -> None:
    # Feedback and skip_rules name a check by its rule id; a shared one is ambiguous.
    rules = Counter(check.rule for c in BUILTIN for check in c.checks)
    assert [rule for rule, n in rules.items() if n > 1] == []


@pytest.mark.parametrize(
    ("capability", "check"),
    [(c, check) for c in BUILTIN for check in c.checks],
    ids=lambda value: getattr(value, "rule", None) or getattr(value, "key", ""),
)
def test_checks_are_well_formed_and_passable(capability: Capability, check: CheckSpec) -> None:
    keys = {s.key for s in capability.sections}
    if check.kind in ("min_items", "reasoning"):
        # Counted inside one of the capability's own sections, to a count an answer can reach.
        assert check.section in keys
        assert 1 <= check.count <= 5
        assert check.groups == ()
    else:
        assert check.kind == "mentions"
        assert check.section is None or check.section in keys
        assert check.groups
        for group in check.groups:
            # An honest answer in either language must be able to name each group.
            assert any(CJK.search(word) for word in group), group
            assert any(word.strip() and not CJK.search(word) for word in group), group
            assert len(set(group)) == len(group), group


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("信息检索", "finding"),
        ("数据整理", "finding"),
        ("逻辑推理", "finding"),
        ("风险评估", "finding"),
        ("质量验证", "finding"),
        ("结果整合", "finding"),
        ("方案设计", "recommendation"),
        ("风险评估", "recommendation"),
        ("结果整合", "recommendation"),
    ],
)
def test_report_relevant_capabilities_have_the_section_role(name: str, role: str) -> None:
    assert role in {s.role for s in by_name(name).sections}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("理解分析", "理解分析"),
        ("understanding", "理解分析"),
        ("Comprehension", "理解分析"),
        ("analysis of the goal", "理解分析"),
        ("  RISK   Assessment  ", "风险评估"),
        ("risk_assessment", "风险评估"),
        ("Logical Reasoning", "逻辑推理"),
        ("Brainstorming", "创意生成"),
        ("SYNTHESIS", "结果整合"),
        ("research", "信息检索"),
        (" 结果整合\n", "结果整合"),
    ],
)
def test_resolve_by_name_key_title_or_alias(query: str, expected: str) -> None:
    assert REGISTRY.resolve(query).name == expected
    assert query in REGISTRY


def test_every_advertised_name_resolves_to_its_own_capability() -> None:
    for capability in BUILTIN:
        for name in (capability.name, capability.key, capability.title_en, *capability.aliases):
            assert REGISTRY.resolve(name.upper()) is capability, name


@pytest.mark.parametrize("name", ["不存在的能力", "telepathy", "", "   "])
def test_unknown_capability_lists_the_known_ones(name: str) -> None:
    with pytest.raises(ChainError) as info:
        REGISTRY.resolve(name)
    err = info.value
    assert err.code == "INVALID_CUSTOM_CHAIN"
    assert err.details == {"capability": name, "known": list(REGISTRY.names())}
    assert err.details["known"][: len(CANONICAL)] == list(CANONICAL)
    for known in REGISTRY.names():
        assert known in err.message("zh")
        assert known in err.message("en")
    assert name not in REGISTRY


@pytest.mark.parametrize(
    ("language", "name", "title", "sections"),
    [
        ("en", "风险评估", "Risk assessment", ["Risks", "Mitigations"]),
        ("zh", "风险评估", "风险评估", ["风险清单", "应对措施"]),
        ("en", "结果整合", "Synthesis", ["Key conclusions", "Recommendations"]),
        ("zh", "结果整合", "结果整合", ["核心结论", "行动建议"]),
    ],
)
def test_describe_speaks_the_language(
    language: str, name: str, title: str, sections: list[str]
) -> None:
    catalogue = REGISTRY.describe(language)
    assert [entry["name"] for entry in catalogue] == list(REGISTRY.names())
    assert [entry["name"] for entry in catalogue][: len(CANONICAL)] == list(CANONICAL)
    entry = next(e for e in catalogue if e["name"] == name)
    capability = by_name(name)
    assert entry["title"] == title
    assert entry["sections"] == sections
    assert entry["purpose"] == capability.purpose.get(language)
    assert entry["checklist"] == list(capability.checklist.get(language))
    assert entry["checks"] == [check.rule for check in capability.checks]
    assert entry["key"] == capability.key
    assert entry["aliases"] == list(capability.aliases)


def test_registry_is_immutable() -> None:
    names = REGISTRY.names()
    with pytest.raises(AttributeError):
        REGISTRY._capabilities = ()
    assert REGISTRY.names() == names
    assert len(REGISTRY) == len(names) > 0


def test_inline_capability_is_built_from_plain_strings() -> None:
    cap = inline_capability(
        "  竞品 分析 ",
        ["{target} 的主要竞品是谁？", " 它们的定价如何？ "],
        ["背景", "主要发现", "改进建议"],
    )
    assert cap.name == "竞品 分析"
    assert not cap.builtin
    assert cap.checklist.zh == cap.checklist.en == ("{target} 的主要竞品是谁？", "它们的定价如何？")
    assert [s.title.zh for s in cap.sections] == [s.title.en for s in cap.sections]
    assert [s.role for s in cap.sections] == ["detail", "finding", "recommendation"]
    keys = [s.key for s in cap.sections]
    assert len(set(keys)) == 3
    assert all(k.startswith("inline_") for k in keys)


@pytest.mark.parametrize(
    ("title", "role"),
    [
        ("结论", "finding"),
        ("关键发现", "finding"),
        ("Key Findings", "finding"),
        ("Conclusion", "finding"),
        ("建议", "recommendation"),
        ("Recommendations", "recommendation"),
        ("Next steps", "recommendation"),
        ("结论与建议", "recommendation"),
        ("背景", "detail"),
        ("Method", "detail"),
    ],
)
def test_inline_section_role_follows_its_title(title: str, role: str) -> None:
    assert inline_capability("x", ["q"], [title]).sections[0].role == role


@pytest.mark.parametrize(
    ("name", "checklist", "sections", "field"),
    [
        pytest.param("", ["q"], ["s"], "name", id="empty-name"),
        pytest.param("   ", ["q"], ["s"], "name", id="blank-name"),
        pytest.param("n" * 51, ["q"], ["s"], "name", id="long-name"),
        pytest.param("cap", [], ["s"], "checklist", id="no-checklist"),
        pytest.param(
            "cap", ["q"] * (MAX_CHECKLIST_ITEMS + 1), ["s"], "checklist", id="too-many-questions"
        ),
        pytest.param("cap", ["q" * 301], ["s"], "checklist", id="long-question"),
        pytest.param("cap", ["q", "  "], ["s"], "checklist", id="blank-question"),
        pytest.param("cap", ["q"], [], "sections", id="no-sections"),
        pytest.param(
            "cap",
            ["q"],
            [f"s{i}" for i in range(MAX_SECTIONS_PER_CAPABILITY + 1)],
            "sections",
            id="too-many-sections",
        ),
        pytest.param("cap", ["q"], ["s" * 51], "sections", id="long-section"),
        pytest.param("cap", ["q"], [""], "sections", id="blank-section"),
        pytest.param("cap", ["q"], ["Findings", " findings "], "sections", id="duplicate-section"),
    ],
)
def test_inline_capability_rejects_bad_definitions(
    name: str, checklist: list[str], sections: list[str], field: str
) -> None:
    with pytest.raises(ChainError) as info:
        inline_capability(name, checklist, sections)
    assert info.value.code == "INVALID_CUSTOM_CHAIN"
    assert info.value.details["field"] == field


def test_inline_capability_accepts_the_limits_exactly() -> None:
    cap = inline_capability(
        "n" * 50,
        ["q" * 300] * MAX_CHECKLIST_ITEMS,
        [f"{i}" * 50 for i in range(MAX_SECTIONS_PER_CAPABILITY)],
    )
    assert len(cap.checklist.en) == MAX_CHECKLIST_ITEMS
    assert len(cap.sections) == MAX_SECTIONS_PER_CAPABILITY


def test_with_inline_returns_a_new_registry_that_resolves_it() -> None:
    cap = inline_capability("Competitor scan", ["Who competes with {target}?"], ["Findings"])
    extended = REGISTRY.with_inline([cap])
    assert extended.resolve("competitor SCAN") is cap
    assert extended.names() == (*REGISTRY.names(), "Competitor scan")
    assert len(extended) == len(REGISTRY) + 1
    assert REGISTRY.names() == (*CANONICAL, *TEMPLATE_ONLY)
    assert "Competitor scan" not in REGISTRY


@pytest.mark.parametrize("name", ["风险评估", "Risk Assessment", "brainstorming", "synthesis"])
def test_inline_capability_cannot_shadow_a_builtin(name: str) -> None:
    with pytest.raises(ChainError) as info:
        REGISTRY.with_inline([inline_capability(name, ["q"], ["s"])])
    assert info.value.details["capability"] == name


def test_two_inline_capabilities_cannot_share_a_name() -> None:
    one = inline_capability("Scan", ["q"], ["s"])
    two = inline_capability("scan", ["other"], ["t"])
    with pytest.raises(ChainError):
        REGISTRY.with_inline([one, two])


def test_too_many_inline_capabilities_are_rejected() -> None:
    extra = [inline_capability(f"custom {i}", ["q"], ["s"]) for i in range(11)]
    with pytest.raises(ChainError) as info:
        REGISTRY.with_inline(extra)
    assert info.value.details["limit"] == 10
