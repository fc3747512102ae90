"""Step guidance: instructions, the instantiated checklist, depth, and the bounded context."""

from __future__ import annotations

import re

import pytest

from taskchain import engine, limits
from taskchain.capabilities import CapabilityRegistry
from taskchain.guidance import StepGuidance, guide
from taskchain.models import Session
from taskchain.validation import SKIPPABLE, required_sections
from tests.factories import build_chain, complete_step, custom_step, start_chain

CJK = re.compile(r"[\u4e00-\u9fff]")
TEMPLATES = ["analysis", "creative", "education", "research"]
TARGETS = {"zh": "评估一家社区咖啡店是否应该推出会员订阅制", "en": "a coffee subscription plan"}
FOCUS = {"zh": ["现金流", "员工排班"], "en": ["cash flow", "staff rota"]}


def every_guidance(
    task_type: str, language: str, depth: str = "detailed", focus: bool = True
) -> list[tuple[Session, StepGuidance]]:
    """The guidance of every step of a template chain, in chain order."""
    session, registry = template_session(task_type, language, depth, focus)
    return [(session, guide(session, step.id, registry)) for step in session.definition.steps]


def template_session(
    task_type: str, language: str, depth: str = "detailed", focus: bool = True
) -> tuple[Session, CapabilityRegistry]:
    """A started session of a template chain, and the registry that resolves its capabilities."""
    definition, registry = build_chain(
        task_type,
        language=language,
        depth=depth,
        target=TARGETS[language],
        focus_areas=FOCUS[language] if focus else (),
    )
    return start_chain(definition), registry


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
            assert next(item for item in g.checklist if area in item) in g.instructions
        # ...and one rule per focus area that it be discussed, stated in the instructions too
        focus_rules = [r for r in g.rules if r.kind == "focus_area"]
        assert [r.area for r in focus_rules] == FOCUS[language]
        assert all(r.rule == "focus_area" and r.min_units for r in focus_rules)
        for rule in focus_rules:
            assert f"- [focus_area] {rule.description}" in g.instructions.splitlines()


def test_focus_areas_make_no_rule_when_the_step_does_not_require_them() -> None:
    definition, registry = build_chain(
        steps=[
            custom_step("a", validation_rules={"require_focus_areas": False}),
            custom_step("b", validation_rules={"skip_rules": ["focus_area"]}),
            custom_step("c"),
        ],
        focus_areas=FOCUS["zh"],
    )
    session = start_chain(definition)
    kinds = {
        step_id: [r.kind for r in guide(session, step_id, registry).rules]
        for step_id in ("a", "b", "c")
    }
    assert "focus_area" not in kinds["a"]
    assert "focus_area" not in kinds["b"]
    assert kinds["c"].count("focus_area") == len(FOCUS["zh"])


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("depth", ["basic", "detailed", "comprehensive"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_target_is_named_in_the_goal_not_in_every_question(
    task_type: str, depth: str, language: str
) -> None:
    goal = "总目标：" if language == "zh" else "Goal: "
    for _, g in every_guidance(task_type, language, depth):
        assert g.instructions.splitlines()[0] == f"{goal}{TARGETS[language]}"
        assert "{target}" not in g.instructions
        assert all("{" not in item for item in g.checklist)
        # The built-in questions ask about "the goal"; they do not repeat the target each time.
        assert not any(TARGETS[language] in item for item in g.checklist), g.checklist


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
        # Every depth asks every question; comprehensive asks the same ones plus rigour items.
        assert basic.checklist == detailed.checklist
        extra = comprehensive.checklist[len(detailed.checklist) :]
        assert comprehensive.checklist[: len(detailed.checklist)] == detailed.checklist
        assert len(extra) >= 1
        for item in extra:
            assert item in comprehensive.instructions
        # Each depth asks for more text, and the length rules say so.
        assert (basic.min_length, detailed.min_length, comprehensive.min_length) == (60, 150, 300)
        assert basic.max_length < detailed.max_length < comprehensive.max_length
        for g in (basic, detailed, comprehensive):
            lengths = {r.rule: r for r in g.rules if r.kind == "length"}
            assert lengths["min_length"].min_units == g.min_length
            assert lengths["max_length"].max_units == g.max_length
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
    rules = {r.rule: r for r in g.rules}
    assert (rules["min_length"].min_units, rules["max_length"].max_units) == (5, 50)
    lines = g.instructions.splitlines()
    assert f"- [min_length] {rules['min_length'].description}" in lines
    assert "5" in rules["min_length"].description
    assert f"- [max_length] {rules['max_length'].description}" in lines
    assert "50" in rules["max_length"].description
    assert "json_schema" in rules
    assert "json_schema" in rules["json_schema"].description
    # A JSON step is not held to the rules about prose.
    assert not {"on_topic", "no_filler", "no_internal_repeat", "language"} & set(rules)
    assert g.required_sections == []
    assert len(g.checklist) >= 1  # a step without capabilities still gets something to answer


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("depth", ["basic", "detailed", "comprehensive"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_instructions_state_every_rule_the_output_is_checked_against(
    task_type: str, depth: str, language: str
) -> None:
    for _, g in every_guidance(task_type, language, depth):
        lines = g.instructions.splitlines()
        assert g.rules
        for rule in g.rules:
            assert f"[{rule.rule}]" in g.instructions, rule.rule
            assert f"- [{rule.rule}] {rule.description}" in lines, rule.rule
            assert rule.description.strip()
        # Every section the step requires has its rule, and so does every capability check.
        section_rules = [r.section for r in g.rules if r.kind == "section"]
        assert section_rules == g.required_sections
        for kind in ("min_items", "mentions", "reasoning"):
            assert all(r.section in g.required_sections for r in g.rules if r.kind == kind)
        ids = {r.rule for r in g.rules}
        assert {"min_length", "max_length", "not_repeat"} <= ids


def test_skipped_rules_are_neither_in_the_rules_nor_in_the_instructions() -> None:
    # (focus_area too, but this chain has no focus areas to make its rules)
    skipped = [*sorted(SKIPPABLE - {"focus_area"}), "risks_rated"]
    definition, registry = build_chain(
        steps=[
            custom_step("a", capabilities=["风险评估"], validation_rules={"skip_rules": skipped}),
            custom_step("b", capabilities=["风险评估"]),
        ],
        language="en",
        target=TARGETS["en"],
    )
    session = start_chain(definition)
    kept = guide(session, "a", registry)
    full = guide(session, "b", registry)
    for rule_id in skipped:
        assert rule_id in {r.rule for r in full.rules}
        assert f"[{rule_id}]" in full.instructions
        assert rule_id not in {r.rule for r in kept.rules}
        assert f"[{rule_id}]" not in kept.instructions
    # The rules that cannot be switched off stay.
    assert {"min_length", "max_length", "section:risks", "risks_listed"} <= {
        r.rule for r in kept.rules
    }


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("task_type", TEMPLATES)
def test_basic_depth_asks_every_question_of_the_capabilities_behind_its_sections(
    task_type: str, language: str
) -> None:
    session, registry = template_session(task_type, language, depth="basic")
    for step in session.definition.steps:
        g = guide(session, step.id, registry)
        capabilities = {cap.name: cap for _, cap in required_sections(step, registry) if cap}
        assert capabilities, step.id
        asked = [q for cap in capabilities.values() for q in cap.checklist.get(language)]
        # Each required section is reached by its capability's questions: none is left out.
        assert g.checklist[: len(asked)] == asked
        for question in asked:
            assert question in g.instructions


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


def test_the_digest_of_a_long_output_keeps_the_opening_of_every_section() -> None:
    # GIVEN step 1 wrote four long sections, its success criteria third
    sections = ("核心问题", "背景", "成功标准", "约束条件")
    output = "\n\n".join(f"## {title}\n{title}的第一句。" + "展开说明。" * 80 for title in sections)
    definition, registry = build_chain(steps=[custom_step("a"), custom_step("b", "a")])
    session = complete_step(start_chain(definition), "a", output)
    # WHEN the next step's context is built
    digest = guide(session, "b", registry).context[0].digest
    # THEN it is bounded, and opens every section, not only the first ones
    assert len(digest) <= limits.DIGEST_CHARS_PER_STEP
    for title in sections:
        assert f"{title}：{title}的第一句。" in digest, digest


def test_the_digest_cuts_sections_opened_by_a_label_and_their_text() -> None:
    from taskchain.guidance import digest_of

    # GIVEN an e-mail whose sections open with "Label: text" on one line
    titles = ["Current level", "Gaps", "Learning goals", "Conditions"]
    output = "Hi Sam,\n\n" + "\n\n".join(
        f"{t}: {t} opens here. " + "More detail. " * 60 for t in titles
    )
    # WHEN it is digested THEN every section's opening is there
    digest = digest_of(output, "en", 500)
    for t in titles:
        assert f"{t}: {t} opens here." in digest, digest


def test_the_digest_gives_room_first_to_the_sections_the_step_asks_about() -> None:
    from taskchain.guidance import digest_of

    # GIVEN an earlier output of ten long sections, and a step that asks about its criteria
    titles = [f"Part {n}" for n in range(9)] + ["Success criteria"]
    output = "\n\n".join(f"## {t}\n{t} opens here. " + "More detail. " * 60 for t in titles)
    asked = "Check the results against the success criteria one by one."
    # WHEN it is digested THEN the criteria are quoted at length, within the bound
    digest = digest_of(output, "en", 500, asked)
    assert len(digest) <= 500
    assert "Success criteria: Success criteria opens here. More detail. More detail." in digest
    assert digest.startswith("Part 0: Part 0 opens")


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


@pytest.mark.parametrize(
    ("language", "markdown", "expected"),
    [
        (
            "en",
            "## Core question\n**Known facts:**\n- Loads rise 3%.\n- Costs fall\n\n"
            "| risk | impact |\n|---|---|\n| delay | high |",
            "Core question: Known facts: Loads rise 3%. Costs fall; risk: delay, impact: high",
        ),
        (
            "zh",
            "## 核心问题\n**已知：**\n- 负荷上升 3%\n- 成本下降\n\n| 风险 | 影响 |\n|---|---|\n| 延期 | 高 |",
            "核心问题：已知：负荷上升 3%；成本下降；风险：延期，影响：高",
        ),
    ],
)
def test_the_digest_of_an_earlier_step_reads_as_prose(
    language: str, markdown: str, expected: str
) -> None:
    from taskchain.guidance import prose

    # Headings become labels, items and table rows clauses; no pipes or emphasis.
    assert prose(markdown, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Risks: risk: delay, likelihood: medium, impact: high; risk: churn, impact: low; "
               "no headers, here"),
        ("zh", "风险：风险：延期，可能性：中，影响：高；风险：退订，影响：低；无表头，这里"),
    ],
)  # fmt: skip
def test_the_digest_pairs_each_table_cell_with_its_header(language: str, expected: str) -> None:
    from taskchain.guidance import prose

    heading = "Risks" if language == "en" else "风险"
    header = "| risk | likelihood | impact |" if language == "en" else "| 风险 | 可能性 | 影响 |"
    rows = (
        ["| delay | medium | **high** |", "| churn |  | low |"]
        if language == "en"
        else ["| 延期 | 中 | **高** |", "| 退订 |  | 低 |"]
    )
    headless = "| no headers | here |" if language == "en" else "| 无表头 | 这里 |"
    markdown = "\n".join([f"## {heading}", header, "|---|:---:|---|", *rows, "", headless])

    # Each row says which value belongs to which column; a table without a header row stays cells.
    assert prose(markdown, language) == expected


@pytest.mark.parametrize(
    ("language", "skipped", "failed"),
    [("zh", "（已跳过：没有数据）", "（失败：执行超时）"),
     ("en", "(skipped: no data)", "(failed: timed out)")],
)  # fmt: skip
def test_context_names_an_unfinished_dependencys_state_in_the_sessions_language(
    language: str, skipped: str, failed: str
) -> None:
    definition, registry = build_chain(
        steps=[custom_step("a", max_attempts=1), custom_step("b"), custom_step("c", "a", "b")],
        execution_mode="parallel",
        language=language,
    )
    session = start_chain(definition)
    session = engine.skip(session, "b", "没有数据" if language == "zh" else "no data", now=0)
    session = engine.record_error(session, "a", "执行超时" if language == "zh" else "timed out",
                                  now=0, executor="llm")  # fmt: skip

    context = {c.step_id: c for c in guide(session, "c", registry).context}

    assert (context["b"].digest, context["a"].digest) == (skipped, failed)
    assert (context["a"].state, context["b"].state) == ("failed", "skipped")  # machine values stay
