"""Executors produce step outputs for one-shot runs; the builtin one writes honest outlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from taskchain.capabilities import CapabilityRegistry
from taskchain.guidance import StepGuidance, instantiate
from taskchain.models import Capability, Feedback, Session, Usage


@dataclass(frozen=True, slots=True)
class StepTask:
    """One attempt at one step, as an executor receives it."""

    session: Session
    guidance: StepGuidance
    attempt: int  # 1-based
    previous_feedback: tuple[Feedback, ...]  # failed checks of the previous attempt, if any
    timeout: float  # seconds this attempt may take; executors that do I/O must honour it


@dataclass(frozen=True, slots=True)
class Answer:
    """An attempt's output with what producing it cost (model executors)."""

    text: str
    model: str | None = None
    usage: Usage | None = None


class AttemptFailed(Exception):
    """An attempt that produced no output, with a reason fit to show in either language."""

    def __init__(self, zh: str, en: str, *, model: str | None = None, usage: Usage | None = None):
        super().__init__(en)
        self.zh, self.en, self.model, self.usage = zh, en, model, usage

    def message(self, language: str) -> str:
        """The reason in ``language``."""
        return self.en if language == "en" else self.zh


class Executor(Protocol):
    """Something that writes a step's output from its guidance.

    ``concurrent`` executors (those that wait on I/O, such as a language-model client) are run
    in worker threads: independent ready steps at once in ``parallel`` mode, and each attempt
    under the runner's timeout. Others are called inline.
    """

    name: str
    concurrent: bool
    writes_outlines: bool  # outputs are outlines to fill in: their length is not judged
    # An executor may also set ``context_apart = True``: its tasks' guidance then leaves the
    # earlier steps' digests out of the instructions (a prompt puts them in a block of data).

    def execute(self, task: StepTask) -> str | Answer:
        """Return the step's output text (Markdown), or it with its cost.

        Raises
        ------
        AttemptFailed
            The attempt produced nothing usable; the reason is recorded on the step.
        """
        ...


class BuiltinExecutor:
    """Writes, for each step, the structured outline a writer would fill in.

    The outline has the step's required sections, the instantiated checklist and focus areas
    under them, and the scaffolds the capability checks look for (numbered items, reasoning
    markers). It states that it is an outline: it invents no findings.
    """

    name = "builtin"
    concurrent = False
    writes_outlines = True

    def __init__(self, registry: CapabilityRegistry | None = None) -> None:
        self._registry = registry

    def execute(self, task: StepTask) -> str:
        """The outline for ``task``'s step."""
        from taskchain.chain import registry_for  # local: chain -> validation -> guidance

        g = task.guidance
        zh = g.language != "en"
        registry = self._registry or registry_for(task.session.definition)
        step = task.session.definition.step(g.step_id)
        assert step is not None
        lines = [
            f"> 提纲（内置执行器生成，待填写）：{g.name}。本提纲只列出要回答的问题，不包含结论。"
            if zh
            else f"> Outline (builtin executor, to be filled in): {g.name}. It lists the "
            "questions to answer and holds no conclusions.",
            "",
        ]
        if g.description:
            lines += [
                f"本步骤目的：{g.description}" if zh else f"Purpose of this step: {g.description}",
                "",
            ]
        sections = list(g.required_sections) or ["提纲" if zh else "Outline"]
        caps = [registry.resolve(n) for n in step.capabilities]
        # Each capability's questions are shared out among its sections, in order.
        questions_for: dict[str, list[str]] = {}
        owner: dict[str, Capability] = {}
        for cap in caps:
            titles = [spec.title.get(g.language) for spec in cap.sections]
            qs = [
                instantiate(q, task.session.definition.target, g.language)
                for q in cap.checklist.get(g.language)
            ]
            if g.depth == "basic":
                qs = qs[:3]
            share = -(-len(qs) // len(titles))
            for i, title in enumerate(titles):
                questions_for[title] = qs[i * share : (i + 1) * share]
                owner[title] = cap
        pending = "待回答" if zh else "To answer"
        for title in sections:
            lines += [f"## {title}", ""]
            owner_cap = owner.get(title)
            questions = questions_for.get(title, [] if owner_cap else list(g.checklist))
            lines += [f"- {pending}：{q}" if zh else f"- {pending}: {q}" for q in questions]
            lines += self._scaffolds(owner_cap, title, g.language) if owner_cap else []
            for area in g.focus_areas:
                lines.append(
                    f"- 关注点「{area}」在「{title}」中的体现：（待填写）"
                    if zh
                    else f"- How '{area}' shows in '{title}': (to be filled in)"
                )
            lines.append("")
        written = "\n".join(lines)
        extra = [q for q in g.checklist if q not in written]
        if extra:
            lines += [f"## {'其他要回答的问题' if zh else 'Further questions'}", ""]
            lines += [f"- {pending}：{q}" if zh else f"- {pending}: {q}" for q in extra]
        return "\n".join(lines).strip() + "\n"

    @staticmethod
    def _scaffolds(cap: Capability, title: str, language: str) -> list[str]:
        """Fill-in lines for the checks a capability adds on this section."""
        zh = language != "en"
        out: list[str] = []
        for check in cap.checks:
            section = next((s for s in cap.sections if s.key == check.section), None)
            if check.kind == "min_items" and section and section.title.get(language) == title:
                out += [
                    f"{i}. （待填写第 {i} 项）" if zh else f"{i}. (item {i} to fill in)"
                    for i in range(1, check.count + 1)
                ]
            elif check.kind == "reasoning" and section and section.title.get(language) == title:
                out.append(
                    "- 推理链：前提 → 推论 → 结论（待填写）"
                    if zh
                    else "- Chain of reasoning: premises → inference → conclusion (to fill in)"
                )
            elif check.kind == "mentions" and section and section.title.get(language) == title:
                words = [next((w for w in g if w.isascii() != zh), g[0]) for g in check.groups]
                out.append(
                    f"- 为每项写明：{'、'.join(words)}（待填写）"
                    if zh
                    else f"- For each, state: {', '.join(words)} (to fill in)"
                )
        return out
