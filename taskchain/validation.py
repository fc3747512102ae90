"""Objective checks of a submitted step output, each yielding actionable feedback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema

from taskchain.capabilities import CapabilityRegistry
from taskchain.models import (
    Capability,
    ChainDefinition,
    CheckSpec,
    Depth,
    Feedback,
    Localized,
    SectionSpec,
    StepSpec,
)
from taskchain.text import (
    Block,
    blocks,
    find_block,
    items,
    measure,
    mentions,
    normalize,
    sentences,
    similarity,
)

# Content units (one per CJK character or Latin word) expected at each depth.
DEPTH_BOUNDS: Mapping[str, tuple[int, int]] = {
    "basic": (80, 1500),
    "detailed": (200, 4000),
    "comprehensive": (400, 8000),
}

_JSON_FENCE = re.compile(r"```(?:json)?\s*\n(?P<body>.*?)\n```", re.DOTALL)


def _t(language: str, zh: str, en: str) -> str:
    """Pick the text in ``language``."""
    return en if language == "en" else zh


def length_bounds(depth: Depth | str, step: StepSpec) -> tuple[int, int]:
    """The (min, max) content units for ``step`` at ``depth``, after its overrides."""
    low, high = DEPTH_BOUNDS[depth]
    rules = step.validation_rules
    high = rules.max_length if rules.max_length is not None else high
    # An explicit bound beats the depth's other one: a short max lowers the depth's minimum
    # (as a long min raises its maximum below), or no output could pass both.
    low = rules.min_length if rules.min_length is not None else min(low, high)
    return low, max(low, high)


def required_sections(
    step: StepSpec, registry: CapabilityRegistry
) -> tuple[tuple[SectionSpec, Capability | None], ...]:
    """The sections ``step`` must contain, each with the capability that asks for it."""
    override = step.validation_rules.required_sections
    if override is not None:
        return tuple(
            (SectionSpec(key=f"custom_{i}", title=_same(title)), None)
            for i, title in enumerate(override)
        )
    out: list[tuple[SectionSpec, Capability | None]] = []
    for name in step.capabilities:
        cap = registry.resolve(name)
        out.extend((section, cap) for section in cap.sections)
    return tuple(out)


def _same(title: str) -> Localized:
    """A title given in one language, used for both."""
    return Localized(zh=title, en=title)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The feedback on one output and whether it is accepted (no failed error-severity check)."""

    feedback: tuple[Feedback, ...]

    @property
    def accepted(self) -> bool:
        """Whether every error-severity check passed."""
        return all(f.passed or f.severity != "error" for f in self.feedback)


def check(
    definition: ChainDefinition,
    step: StepSpec,
    output: str,
    *,
    registry: CapabilityRegistry,
    earlier: Mapping[str, str],
    outline: bool = False,
) -> Verdict:
    """Run every objective check on ``output`` for ``step``.

    Parameters
    ----------
    definition
        The chain (target, depth, focus areas, language).
    step
        The step the output answers.
    output
        The cleaned output text.
    registry
        Resolves the step's capabilities to their sections and checks.
    earlier
        Outputs of the steps already completed, by step id, for the near-repeat check.
    outline
        The output is an outline to be filled in (the builtin executor's): its length is
        reported but not held against it, since an outline has no content to measure.
    """
    lang = definition.config.language
    found = blocks(output)
    feedback: list[Feedback] = []
    feedback.extend(_length(lang, definition.config.depth, step, output, outline))
    sections = required_sections(step, registry)
    feedback.extend(_sections(lang, sections, found))
    if step.validation_rules.require_focus_areas:
        feedback.extend(_focus(lang, definition.config.focus_areas, output))
    # Deduplicated by name: hashing the frozen models themselves is needlessly slow.
    caps = {cap.name: cap for _, cap in sections if cap is not None}
    for cap in caps.values():
        for spec in cap.checks:
            feedback.append(_capability_check(lang, cap, spec, output, found))
    feedback.append(_repeat(lang, step, output, earlier, definition))
    if step.validation_rules.json_schema is not None:
        feedback.append(_schema(lang, step, output))
    return Verdict(tuple(feedback))


def _length(
    lang: str, depth: str, step: StepSpec, output: str, outline: bool
) -> Iterable[Feedback]:
    """Minimum and maximum length for the depth (the minimum is not judged for outlines)."""
    low, high = length_bounds(depth, step)
    size = measure(output)
    if outline and size < low:
        yield Feedback(
            rule="min_length",
            passed=False,
            severity="info",
            message=_t(
                lang,
                f"提纲篇幅 {size} 字（词）；填写后须至少 {low}，提纲本身不评判篇幅",
                f"outline of {size} words; once filled in it needs at least {low}, "
                "an outline's length is not judged",
            ),
        )
    else:
        yield from _min_length(lang, size, low)
    yield Feedback(
        rule="max_length",
        passed=size <= high,
        severity="error",
        message=_t(
            lang, f"篇幅 {size} 字（词），上限 {high}", f"length {size} words, at most {high}"
        ),
        hint=""
        if size <= high
        else _t(
            lang,
            "删去与本步骤目的无关的内容，合并重复的论点。",
            "Cut what does not serve this step's purpose and merge repeated points.",
        ),
    )


def _min_length(lang: str, size: int, low: int) -> Iterable[Feedback]:
    """The minimum-length verdict."""
    yield Feedback(
        rule="min_length",
        passed=size >= low,
        severity="error",
        message=_t(
            lang,
            f"篇幅 {size} 字（词），要求至少 {low}",
            f"length {size} words, at least {low} required",
        ),
        hint=""
        if size >= low
        else _t(
            lang,
            "逐条回答清单中的每个问题，给出依据、例子或数据，而不是只列标题。",
            "Answer every checklist question with reasons, examples or figures, not just headings.",
        ),
    )


def _sections(
    lang: str, sections: Sequence[tuple[SectionSpec, Capability | None]], found: Sequence[Block]
) -> Iterable[Feedback]:
    """Every required section present as a heading or labelled line, in either language."""
    for section, cap in sections:
        present = find_block(found, section.names()) is not None
        title = section.title.get(lang)
        source = (
            f"（{cap.name}）" if cap and lang != "en" else (f" ({cap.title_en})" if cap else "")
        )
        yield Feedback(
            rule=f"section:{section.key}",
            passed=present,
            severity="error",
            message=_t(
                lang,
                f"{'包含' if present else '缺少'}小节「{title}」{source}",
                f"section '{title}'{source} {'present' if present else 'missing'}",
            ),
            hint=""
            if present
            else _t(
                lang,
                f"添加标题“## {title}”，在其下写出该小节的内容。",
                f"Add a heading '## {title}' and write that section's content under it.",
            ),
        )


def _focus(lang: str, focus_areas: Sequence[str], output: str) -> Iterable[Feedback]:
    """Every focus area addressed by name."""
    lowered = output.lower()
    key = ""
    for area in focus_areas:
        # Fast path: the area appears verbatim; otherwise compare normalized forms.
        covered = area.lower() in lowered
        if not covered:
            key = key or normalize(output)
            covered = mentions(key, area)
        yield Feedback(
            rule="focus_area",
            passed=covered,
            severity="error",
            message=_t(
                lang,
                f"关注点「{area}」{'已覆盖' if covered else '未覆盖'}",
                f"focus area '{area}' {'covered' if covered else 'not covered'}",
            ),
            hint=""
            if covered
            else _t(
                lang,
                f"明确写出「{area}」如何影响本步骤的结论，并点名它。",
                f"State explicitly how '{area}' bears on this step, naming it.",
            ),
        )


def _capability_check(
    lang: str, cap: Capability, spec: CheckSpec, output: str, found: Sequence[Block]
) -> Feedback:
    """A check a capability adds: enough list items in a section, or enough marker words."""
    if spec.kind == "min_items":
        section = next((s for s in cap.sections if s.key == spec.section), None)
        block = find_block(found, section.names()) if section else None
        count = len(items(block.body)) if block else 0
    else:
        lowered = output.lower()
        count = sum(1 for word in spec.keywords if _uses(lowered, word.lower()))
    passed = count >= spec.count
    # The spec's message describes the failure; a pass gets a plain statement instead.
    message = (
        _t(
            lang,
            f"「{cap.name}」检查通过：{spec.rule}",
            f"{cap.title_en} check passed: {spec.rule}",
        )
        if passed
        else spec.message.get(lang)
    )
    return Feedback(
        rule=spec.rule,
        passed=passed,
        severity="error",
        message=message + _t(lang, f"（{count}/{spec.count}）", f" ({count}/{spec.count})"),
        hint="" if passed else spec.hint.get(lang),
    )


def _uses(lowered: str, word: str) -> bool:
    """Whether ``lowered`` uses ``word``, a Latin one only where a word starts."""
    if word.isascii():  # else "thus" counts in "enthusiastic"; "impacts" still counts
        return re.search(rf"(?<![a-z0-9]){re.escape(word)}", lowered) is not None
    return word in lowered


def _repeat(
    lang: str, step: StepSpec, output: str, earlier: Mapping[str, str], definition: ChainDefinition
) -> Feedback:
    """Not a near-repeat of an earlier step's output."""
    mine = sentences(output)
    worst, worst_id = 0.0, ""
    for step_id, text in earlier.items():
        if step_id == step.id:
            continue
        score = similarity(mine, sentences(text))
        if score > worst:
            worst, worst_id = score, step_id
    limit = step.validation_rules.max_similarity
    passed = worst < limit
    other = definition.step(worst_id)
    other_name = other.name if other else worst_id
    return Feedback(
        rule="not_repeat",
        passed=passed,
        severity="error",
        message=_t(
            lang,
            f"与步骤「{other_name}」的相似度 {worst:.0%}（上限 {limit:.0%}）"
            if worst_id
            else "没有与之前步骤重复",
            f"similarity to step '{other_name}' {worst:.0%} (limit {limit:.0%})"
            if worst_id
            else "no repeat of an earlier step",
        ),
        hint=""
        if passed
        else _t(
            lang,
            "不要复述之前的步骤；在其结论的基础上推进本步骤要求的新内容。",
            "Do not restate the earlier step; build on its conclusions with what this step asks for.",
        ),
    )


def _schema(lang: str, step: StepSpec, output: str) -> Feedback:
    """The output (or its first ```json block) is JSON valid against the step's schema."""
    schema = step.validation_rules.json_schema
    fence = _JSON_FENCE.search(output)
    raw = fence.group("body") if fence else output
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return Feedback(
            rule="json_schema",
            passed=False,
            severity="error",
            message=_t(lang, f"输出不是有效的 JSON：{exc}", f"output is not valid JSON: {exc}"),
            hint=_t(
                lang,
                "只输出一个 JSON 对象，或放在 ```json 代码块中。",
                "Output a single JSON object, or put it in a ```json code block.",
            ),
        )
    try:
        compiled_schema(json.dumps(schema, sort_keys=True))(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        return Feedback(
            rule="json_schema",
            passed=False,
            severity="error",
            message=_t(
                lang,
                f"JSON 不符合要求的结构：{exc.message}",
                f"JSON does not match the schema: {exc.message}",
            ),
            hint=_t(
                lang,
                "按步骤给出的 JSON 结构修改字段。",
                "Fix the fields to match the step's JSON schema.",
            ),
        )
    return Feedback(
        rule="json_schema",
        passed=True,
        severity="error",
        message=_t(lang, "JSON 结构符合要求", "JSON matches the schema"),
    )


@lru_cache(maxsize=128)
def compiled_schema(schema_json: str) -> Any:
    """A compiled validator for a JSON schema given as canonical JSON text (cached)."""
    return fastjsonschema.compile(json.loads(schema_json))
