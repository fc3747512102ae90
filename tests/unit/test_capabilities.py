"""The capability registry: the ten standard capabilities, lookup, inline capabilities."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest

from taskchain.capabilities import CapabilityRegistry, inline_capability
from taskchain.errors import ChainError
from taskchain.limits import MAX_CHECKLIST_ITEMS, MAX_SECTIONS_PER_CAPABILITY
from taskchain.models import Capability, CheckSpec

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
REGISTRY = CapabilityRegistry.builtin()
BUILTIN = tuple(REGISTRY)
CJK = re.compile(r"[\u4e00-\u9fff]")


def by_name(name: str) -> Capability:
    return next(c for c in BUILTIN if c.name == name)


def test_builtin_has_the_ten_standard_capabilities_in_order() -> None:
    assert REGISTRY.names() == CANONICAL
    assert len(REGISTRY) == 10
    assert all(c.builtin for c in REGISTRY)


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
    assert 1 <= len(capability.sections) <= 2
    assert len(capability.checks) <= 2


@pytest.mark.parametrize("capability", BUILTIN, ids=lambda c: c.key)
def test_checklist_placeholders_are_only_target(capability: Capability) -> None:
    # A misspelt placeholder ({goal}) would reach the model unreplaced.
    for item in (*capability.checklist.zh, *capability.checklist.en):
        fields = {f for _, f, _, _ in string.Formatter().parse(item) if f is not None}
        assert fields <= {"target"}, item
        assert "{" not in item.format(target="X")


def test_section_keys_and_titles_are_unique_across_capabilities() -> None:
    sections = [s for c in BUILTIN for s in c.sections]
    for values in (
        [s.key for s in sections],
        [s.title.zh for s in sections],
        [s.title.en.casefold() for s in sections],
    ):
        assert [v for v, n in Counter(values).items() if n > 1] == []


def test_every_section_heading_identifies_one_section() -> None:
    # Titles and aliases are matched against the model's headings; a shared one is ambiguous.
    headings = Counter(name.casefold() for c in BUILTIN for s in c.sections for name in s.names())
    assert [h for h, n in headings.items() if n > 1] == []


def test_check_rules_are_unique() -> None:
    rules = [check.rule for c in BUILTIN for check in c.checks]
    assert len(rules) == len(set(rules))


@pytest.mark.parametrize(
    ("capability", "check"),
    [(c, check) for c in BUILTIN for check in c.checks],
    ids=lambda value: getattr(value, "rule", None) or getattr(value, "key", ""),
)
def test_checks_are_well_formed_and_passable(capability: Capability, check: CheckSpec) -> None:
    for text in (check.message, check.hint):
        assert CJK.search(text.zh)
        assert text.en
        assert not CJK.search(text.en)
    if check.kind == "min_items":
        assert check.section in {s.key for s in capability.sections}
        assert 1 <= check.count <= 5
    else:
        # An honest answer in either language must be able to reach the count.
        chinese = [k for k in check.keywords if CJK.search(k)]
        english = [k for k in check.keywords if not CJK.search(k)]
        assert len(chinese) >= check.count
        assert len(english) >= check.count


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
    assert err.details == {"capability": name, "known": list(CANONICAL)}
    for known in CANONICAL:
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
    assert [entry["name"] for entry in catalogue] == list(CANONICAL)
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
    with pytest.raises(AttributeError):
        REGISTRY._capabilities = ()
    assert len(REGISTRY) == 10


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
    assert extended.names() == (*CANONICAL, "Competitor scan")
    assert len(REGISTRY) == 10
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
