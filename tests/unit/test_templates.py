"""The built-in chain templates: their steps, their DAGs, the catalogue and its filters."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import InvalidRequestError
from taskchain.graph import chain_order
from taskchain.templates import TEMPLATE_KEYS, catalogue, load_template

REGISTRY = CapabilityRegistry.builtin()
CJK = re.compile(r"[\u4e00-\u9fff]")

# The step names the original plugin's users know, in order.
STEP_NAMES = {
    "analysis": ("理解目标", "信息收集", "深度分析", "结果综合"),
    "creative": ("灵感收集", "创意生成", "方案评估", "方案优化"),
    "education": ("水平评估", "路径规划", "知识传授", "实践指导"),
    "research": ("问题定义", "方法设计", "深入调研", "结论形成"),
}


def test_template_keys_are_the_four_task_types() -> None:
    assert TEMPLATE_KEYS == ("analysis", "creative", "education", "research")


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_template_has_the_reference_steps(key: str) -> None:
    template = load_template(key)
    assert template.key == key
    assert tuple(step.name.zh for step in template.steps) == STEP_NAMES[key]


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_template_texts_exist_in_both_languages(key: str) -> None:
    template = load_template(key)
    texts = [template.name, template.description]
    texts += [t for step in template.steps for t in (step.name, step.description)]
    for text in texts:
        assert CJK.search(text.zh), text
        assert text.en, text
        assert not CJK.search(text.en), text
    assert template.tags.zh
    assert template.tags.en


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_template_capabilities_resolve(key: str) -> None:
    for step in load_template(key).steps:
        assert 1 <= len(step.capabilities) <= 3
        for name in step.capabilities:
            assert REGISTRY.resolve(name).name == name  # canonical names, not aliases


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_template_is_a_dag_in_listed_order_ending_in_one_step(key: str, language: str) -> None:
    specs = load_template(key).step_specs(language)
    assert chain_order(specs) == tuple(s.id for s in specs)
    assert specs[0].dependencies == ()
    for previous, step in pairwise(specs):
        assert previous.id in step.dependencies
    depended_on = {dep for s in specs for dep in s.dependencies}
    assert [s.id for s in specs if s.id not in depended_on] == [specs[-1].id]


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_final_step_yields_recommendations_and_chain_yields_findings(key: str) -> None:
    # The final report draws recommendations and key findings from these section roles.
    steps = load_template(key).steps
    final_roles = {
        s.role for name in steps[-1].capabilities for s in REGISTRY.resolve(name).sections
    }
    assert "recommendation" in final_roles
    roles = {
        s.role
        for step in steps
        for name in step.capabilities
        for s in REGISTRY.resolve(name).sections
    }
    assert "finding" in roles


@pytest.mark.parametrize("language", ["zh", "en"])
def test_step_specs_are_in_the_requested_language(language: str) -> None:
    template = load_template("research")
    specs = template.step_specs(language)
    assert [s.name for s in specs] == [step.name.get(language) for step in template.steps]
    assert [s.description for s in specs] == [
        step.description.get(language) for step in template.steps
    ]
    assert specs[-1].capabilities == template.steps[-1].capabilities


def test_load_template_is_cached() -> None:
    assert load_template("analysis") is load_template("analysis")


@pytest.mark.parametrize("key", ["custom", "Analysis", "", "marketing"])
def test_unknown_template_is_an_invalid_task_type(key: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        load_template(key)
    assert info.value.code == "INVALID_TASK_TYPE"
    assert info.value.details == {"task_type": key, "allowed": list(TEMPLATE_KEYS)}
    assert "analysis" in info.value.message("en")


@pytest.mark.parametrize(
    ("language", "name", "first_step"),
    [("zh", "系统分析", "理解目标"), ("en", "Systematic analysis", "Understand the goal")],
)
def test_catalogue_is_in_the_display_language(language: str, name: str, first_step: str) -> None:
    entries = catalogue(language)
    assert [e["key"] for e in entries] == list(TEMPLATE_KEYS)
    analysis = entries[0]
    assert set(analysis) == {"key", "name", "description", "category", "tags", "steps"}
    assert analysis["name"] == name
    assert analysis["steps"][0] == {"id": "understand_goal", "name": first_step}
    assert analysis["tags"] == list(load_template("analysis").tags.get(language))


@pytest.mark.parametrize(
    ("language", "search", "expected"),
    [
        ("en", "分析", {"analysis"}),
        ("zh", "analysis", {"analysis"}),
        ("zh", "ANALYSIS", {"analysis"}),
        ("en", "头脑风暴", {"creative"}),
        ("zh", "Tutoring", {"education"}),
        ("en", "文献综述", {"research"}),
        ("zh", "no such template", set()),
    ],
)
def test_catalogue_search_matches_both_languages(
    language: str, search: str, expected: set[str]
) -> None:
    assert {e["key"] for e in catalogue(language, search=search)} == expected


def test_blank_search_does_not_filter() -> None:
    assert [e["key"] for e in catalogue("en", search="   ")] == list(TEMPLATE_KEYS)


@pytest.mark.parametrize(
    ("category", "expected"),
    [("creative", ["creative"]), (" EDUCATION ", ["education"]), ("cooking", [])],
)
def test_catalogue_category_filter(category: str, expected: list[str]) -> None:
    assert [e["key"] for e in catalogue("zh", category=category)] == expected


@pytest.mark.parametrize(
    ("limit", "search", "expected"),
    [
        (2, None, ["analysis", "creative"]),
        (0, None, []),
        (10, None, list(TEMPLATE_KEYS)),
        (1, "Tutoring", ["education"]),
    ],
)
def test_catalogue_limit(limit: int, search: str | None, expected: list[str]) -> None:
    assert [e["key"] for e in catalogue("en", search=search, limit=limit)] == expected


def test_catalogue_rejects_a_negative_limit() -> None:
    with pytest.raises(InvalidRequestError) as info:
        catalogue("en", limit=-1)
    assert info.value.details["field"] == "limit"
