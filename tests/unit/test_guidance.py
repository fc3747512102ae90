"""Step guidance: instructions, the instantiated checklist, depth, and the bounded context."""

from __future__ import annotations

import re

import pytest

from taskchain import engine, limits
from taskchain.guidance import StepGuidance, guide
from taskchain.models import Session
from tests.factories import build_chain, complete_step, custom_step, start_chain

CJK = re.compile(r"[\u4e00-\u9fff]")
TEMPLATES = ["analysis", "creative", "education", "research"]
TARGETS = {"zh": "评估一家社区咖啡店是否应该推出会员订阅制", "en": "a coffee subscription plan"}
FOCUS = {"zh": ["现金流", "员工排班"], "en": ["cash flow", "staff rota"]}


def every_guidance(
    task_type: str, language: str, depth: str = "detailed", focus: bool = True
) -> list[tuple[Session, StepGuidance]]:
    """The guidance of every step of a template chain, in chain order."""
    definition, registry = build_chain(
        task_type,
        language=language,
        depth=depth,
        target=TARGETS[language],
        focus_areas=FOCUS[language] if focus else (),
    )
    session = start_chain(definition)
    return [(session, guide(session, step.id, registry)) for step in definition.steps]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_instructions_name_everything_the_step_asks_for(task_type: str, language: str) -> None:
    guidances = every_guidance(task_type, language)
    total = len(guidances)
    for position, (_, g) in enumerate(guidances, 1):
        text = g.instructions
        assert TARGETS[language] in text
        assert g.name in text
        assert f"{position}/{total}" in text
        assert g.description in text
        assert g.required_sections
        for item in g.checklist:
            assert item in text
        for title in g.required_sections:
            assert title in text
        for area in FOCUS[language]:
            assert area in text
        assert f"{g.min_length}" in text
        assert (g.attempts, g.max_attempts) == (0, 3)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("depth", ["basic", "detailed", "comprehensive"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_checklist_has_one_item_per_focus_area(task_type: str, depth: str, language: str) -> None:
    for _, g in every_guidance(task_type, language, depth):
        for area in FOCUS[language]:
            assert sum(area in item for item in g.checklist) == 1, (area, g.checklist)
            assert g.name in next(item for item in g.checklist if area in item)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("depth", ["basic", "detailed", "comprehensive"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_target_placeholder_is_always_filled_in(task_type: str, depth: str, language: str) -> None:
    for _, g in every_guidance(task_type, language, depth):
        assert "{target}" not in g.instructions
        assert all("{target}" not in item for item in g.checklist)
        assert any(TARGETS[language] in item for item in g.checklist)


def test_inline_capability_questions_get_the_target_too() -> None:
    inline = {
        "name": "门店盘点",
        "checklist": ["{target} 目前有哪些库存？", "{target}的哪些原料最先用完？"],
        "sections": ["库存清单"],
    }
    definition, registry = build_chain(
        steps=[custom_step("a", capabilities=["门店盘点"])],
        target="社区咖啡店",
        inline_capabilities=[inline],
    )
    g = guide(start_chain(definition), "a", registry)
    assert g.checklist == ["「社区咖啡店」目前有哪些库存？", "「社区咖啡店」的哪些原料最先用完？"]
    assert "{target}" not in g.instructions
    assert g.required_sections == ["库存清单"]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_depth_changes_checklist_and_length(task_type: str, language: str) -> None:
    by_depth = {
        depth: [g for _, g in every_guidance(task_type, language, depth, focus=False)]
        for depth in ("basic", "detailed", "comprehensive")
    }
    for basic, detailed, comprehensive in zip(*by_depth.values(), strict=True):
        # Basic asks fewer questions; comprehensive asks the same ones plus rigour items.
        assert len(basic.checklist) < len(detailed.checklist)
        assert set(basic.checklist) < set(detailed.checklist)
        extra = comprehensive.checklist[len(detailed.checklist) :]
        assert comprehensive.checklist[: len(detailed.checklist)] == detailed.checklist
        assert len(extra) >= 1
        for item in extra:
            assert item in comprehensive.instructions
        # Each depth asks for more text.
        assert basic.min_length < detailed.min_length < comprehensive.min_length
        assert basic.max_length < detailed.max_length < comprehensive.max_length
        assert (basic.depth, detailed.depth, comprehensive.depth) == (
            "basic",
            "detailed",
            "comprehensive",
        )


def test_english_session_gets_english_guidance() -> None:
    for _, g in every_guidance("research", "en"):
        assert not CJK.search(g.instructions), g.instructions
        assert not any(CJK.search(item) for item in g.checklist)
        assert not any(CJK.search(title) for title in g.required_sections)
        assert g.language == "en"


def test_chinese_session_gets_chinese_guidance() -> None:
    for _, g in every_guidance("research", "zh"):
        assert "总目标" in g.instructions
        assert all(CJK.search(item) for item in g.checklist)


def test_step_validation_rules_show_in_the_guidance() -> None:
    schema = {"type": "object", "required": ["score"]}
    definition, registry = build_chain(
        steps=[
            custom_step(
                "a",
                capabilities=(),
                validation_rules={"min_length": 5, "max_length": 50, "json_schema": schema},
            )
        ],
        language="en",
        target="a coffee subscription plan",
    )
    g = guide(start_chain(definition), "a", registry)
    assert (g.min_length, g.max_length) == (5, 50)
    assert g.json_schema == schema
    assert "5-50" in g.instructions
    assert "json_schema" in g.instructions
    assert g.required_sections == []
    assert len(g.checklist) >= 1  # a step without capabilities still gets something to answer


# --- context of dependencies ------------------------------------------------------------------

LONG = "会员订阅制的分析结论。" * 400  # 4400 characters


def test_context_digest_is_bounded_even_for_twenty_long_outputs() -> None:
    # GIVEN a 20-step chain where every step depends on all earlier ones and wrote a long output
    steps = [custom_step(f"s{i}", *(f"s{j}" for j in range(i))) for i in range(20)]
    definition, registry = build_chain(steps=steps, execution_mode="parallel")
    session = start_chain(definition)
    guidances = []
    for step in definition.steps:
        guidances.append(guide(session, step.id, registry))
        session = complete_step(session, step.id, f"{step.id}：{LONG}")
    # THEN every step's digest of its dependencies stays within the limits
    for g in guidances:
        assert len(g.context) == int(g.step_id[1:])
        total = sum(len(c.digest) for c in g.context)
        assert total <= limits.DIGEST_TOTAL_CHARS
        for c in g.context:
            assert len(c.digest) <= limits.DIGEST_CHARS_PER_STEP
            assert c.digest.startswith(f"{c.step_id}：会员订阅制")
            assert c.state == "completed"
        # and so do the instructions that carry it (the long outputs are nowhere near whole)
        assert len(g.instructions) < limits.DIGEST_TOTAL_CHARS + 3000


def test_context_of_a_skipped_or_failed_dependency_gives_its_reason() -> None:
    definition, registry = build_chain(
        steps=[
            custom_step("a", max_attempts=1),
            custom_step("b"),
            custom_step("c", "a", "b"),
        ],
        execution_mode="parallel",
    )
    session = start_chain(definition)
    session = engine.skip(session, "b", "没有数据" * 200, now=0)
    session = engine.record_error(session, "a", "执行超时", now=0, executor="model")
    context = {c.step_id: c for c in guide(session, "c", registry).context}
    assert (context["a"].state, context["b"].state) == ("failed", "skipped")
    assert "执行超时" in context["a"].digest
    assert "没有数据" in context["b"].digest
    assert len(context["b"].digest) <= limits.DIGEST_CHARS_PER_STEP


def test_step_without_dependencies_has_no_context() -> None:
    _, g = every_guidance("analysis", "zh")[0]
    assert g.context == []
