"""Guidance for a ready step: instructions a model can follow without any other context."""

from __future__ import annotations

import re

from pydantic import BaseModel

from taskchain.capabilities import CapabilityRegistry
from taskchain.limits import DIGEST_CHARS_PER_STEP, DIGEST_TOTAL_CHARS
from taskchain.models import Session, StepSpec
from taskchain.states import StepState
from taskchain.text import shorten
from taskchain.validation import length_bounds, required_sections

_DEPTH_NAMES = {
    "basic": ("基础", "basic"),
    "detailed": ("详细", "detailed"),
    "comprehensive": ("全面", "comprehensive"),
}
_RIGOUR = {
    "zh": (
        "每个判断都写明依据（数据、来源或推理过程），并标出仍不确定的假设。",
        "至少给出一个反方观点或局限，并说明如何应对。",
    ),
    "en": (
        "Back every claim with its basis (data, source or reasoning) and flag the assumptions "
        "that remain uncertain.",
        "Give at least one counter-argument or limitation and say how to deal with it.",
    ),
}
# Checklist items per capability at the basic depth; deeper levels use them all.
_BASIC_ITEMS = 3


class ContextItem(BaseModel):
    """What a step that this one depends on produced, as a bounded digest."""

    step_id: str
    name: str
    state: str
    digest: str


class StepGuidance(BaseModel):
    """Everything a model needs to do one step well."""

    step_id: str
    name: str
    description: str
    capabilities: list[str]
    instructions: str
    checklist: list[str]
    required_sections: list[str]
    focus_areas: list[str]
    depth: str
    min_length: int
    max_length: int
    language: str
    context: list[ContextItem]
    attempts: int
    max_attempts: int
    json_schema: dict[str, object] | None = None


def guide(session: Session, step_id: str, registry: CapabilityRegistry) -> StepGuidance:
    """Guidance for ``step_id`` in ``session`` (any step; normally a ready one)."""
    definition = session.definition
    config = definition.config
    lang = config.language
    step = definition.step(step_id)
    assert step is not None  # callers pass ids taken from the definition
    checklist = _checklist(session, step, registry)
    sections = [s.title.get(lang) for s, _ in required_sections(step, registry)]
    low, high = length_bounds(config.depth, step)
    context = _context(session, step)
    record = session.record(step_id)
    position = [s.id for s in definition.steps].index(step_id) + 1
    instructions = _instructions(session, step, position, checklist, sections, (low, high), context)
    return StepGuidance(
        step_id=step.id,
        name=step.name,
        description=step.description,
        capabilities=[
            registry.resolve(n).title_en if lang == "en" else n for n in step.capabilities
        ],
        instructions=instructions,
        checklist=checklist,
        required_sections=sections,
        focus_areas=list(config.focus_areas),
        depth=config.depth,
        min_length=low,
        max_length=high,
        language=lang,
        context=context,
        attempts=record.attempts,
        max_attempts=step.max_attempts,
        json_schema=step.validation_rules.json_schema,
    )


def instantiate(question: str, target: str, language: str) -> str:
    """A checklist question with ``{target}`` filled in, quoted (“target” / 「target」)."""
    if language == "en":
        return question.replace("{target}", f"“{target}”")
    return re.sub(r"\s*\{target\}\s*", f"「{target}」", question)


def _checklist(session: Session, step: StepSpec, registry: CapabilityRegistry) -> list[str]:
    """The capability questions instantiated with the target, plus one item per focus area."""
    config = session.definition.config
    lang = config.language
    target = session.definition.target
    items: list[str] = []
    for name in step.capabilities:
        questions = registry.resolve(name).checklist.get(lang)
        if config.depth == "basic":
            questions = questions[:_BASIC_ITEMS]
        items.extend(instantiate(q, target, lang) for q in questions)
    if not items:
        items.append(
            f"完成本步骤的要求：{step.description or step.name}（对象：{target}）"
            if lang != "en"
            else f"Do what this step asks: {step.description or step.name} (subject: {target})"
        )
        items.append(
            "写出本步骤的主要结论，并说明每条结论的依据。"
            if lang != "en"
            else "State this step's main conclusions and the basis of each."
        )
    for area in config.focus_areas:
        items.append(
            f"就「{area}」：说明它在「{step.name}」这一步中的具体影响，并给出依据。"
            if lang != "en"
            else f"On '{area}': state its concrete bearing on '{step.name}', with reasons."
        )
    if config.depth == "comprehensive":
        items.extend(_RIGOUR["en" if lang == "en" else "zh"])
    return items


def _context(session: Session, step: StepSpec) -> list[ContextItem]:
    """Bounded digests of the steps ``step`` depends on (the whole chain stays small)."""
    if not step.dependencies:
        return []
    lang = session.language
    per_step = min(DIGEST_CHARS_PER_STEP, DIGEST_TOTAL_CHARS // len(step.dependencies))
    out = []
    for dep_id in step.dependencies:
        dep = session.definition.step(dep_id)
        record = session.record(dep_id)
        if record.state is StepState.COMPLETED and record.output:
            digest = shorten(record.output, per_step)
        else:
            reason = record.reason or ""
            digest = (
                f"（{record.state.value}：{reason}）"
                if lang != "en"
                else f"({record.state.value}: {reason})"
            )
        out.append(
            ContextItem(
                step_id=dep_id,
                name=dep.name if dep else dep_id,
                state=record.state.value,
                digest=shorten(digest, per_step),
            )
        )
    return out


def _instructions(
    session: Session,
    step: StepSpec,
    position: int,
    checklist: list[str],
    sections: list[str],
    bounds: tuple[int, int],
    context: list[ContextItem],
) -> str:
    """The guidance as one text, in the session's language."""
    definition = session.definition
    config = definition.config
    total = len(definition.steps)
    zh = config.language != "en"
    depth_name = _DEPTH_NAMES[config.depth][0 if zh else 1]
    lines: list[str] = []
    if zh:
        lines.append(f"总目标：{definition.target}")
        lines.append(f"当前步骤（{position}/{total}）：{step.name}")
        if step.description:
            lines.append(f"本步骤要做什么：{step.description}")
        lines.append(f"深度：{depth_name}，篇幅约 {bounds[0]}–{bounds[1]} 字（英文按词计）。")
        lines.append("请逐条回答以下问题，不要跳过：")
    else:
        lines.append(f"Goal: {definition.target}")
        lines.append(f"Current step ({position}/{total}): {step.name}")
        if step.description:
            lines.append(f"What this step is for: {step.description}")
        lines.append(f"Depth: {depth_name}, about {bounds[0]}-{bounds[1]} words.")
        lines.append("Answer each of these questions; skip none:")
    lines.extend(f"{i}. {item}" for i, item in enumerate(checklist, 1))
    if sections:
        lines.append(
            "输出必须包含以下小节，每节以 Markdown 标题开头（例如“## 标题”）："
            if zh
            else "The output must contain these sections, each under a Markdown heading ('## Title'):"
        )
        lines.extend(f"- {title}" for title in sections)
    if config.focus_areas:
        areas = "、".join(config.focus_areas) if zh else ", ".join(config.focus_areas)
        lines.append(
            f"必须逐一点名并覆盖这些关注点：{areas}"
            if zh
            else f"Name and cover each focus area: {areas}"
        )
    if step.validation_rules.json_schema is not None:
        lines.append(
            "以符合给定 json_schema 的 JSON 输出（可放在 ```json 代码块中）。"
            if zh
            else "Output JSON matching the given json_schema (a ```json block is fine)."
        )
    if context:
        lines.append(
            "前序步骤的结果（在此基础上推进，不要复述）："
            if zh
            else "Results of earlier steps (build on them; do not restate them):"
        )
        lines.extend(f"- [{c.name}] {c.digest}" for c in context)
    lines.append(
        "只写本步骤的内容；完成后提交，系统会检查并给出反馈。"
        if zh
        else "Write only this step; submit it and the checks will give feedback."
    )
    return "\n".join(lines)
