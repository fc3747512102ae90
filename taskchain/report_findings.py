"""What a report draws from its steps: the findings and recommendations in the sections their
capabilities mark as such, in the order a reader wants them, the conclusions the executive
summary quotes, and what only restates the goal."""

from __future__ import annotations

from dataclasses import dataclass

from taskchain.capabilities import CapabilityRegistry
from taskchain.models import ChainDefinition, SectionRole, StepSpec
from taskchain.report_items import Piece, is_placeholder, pieces
from taskchain.structure import SectionName, read_sections
from taskchain.text import unmark

_SYNTHESIS = frozenset({"synthesis"})  # capability keys whose findings conclude a chain
_ROLES: frozenset[SectionRole] = frozenset({"finding", "recommendation"})


@dataclass(frozen=True, slots=True)
class Drawn:
    """A finding or recommendation, the step it came from, and how it was written."""

    role: SectionRole
    step: StepSpec
    piece: Piece
    concludes: bool  # from a section of a capability that concludes the chain (结果整合)


def draw(step: StepSpec, output: str, registry: CapabilityRegistry, language: str) -> list[Drawn]:
    """Every finding and recommendation in the sections the step's capabilities mark as such.

    Each list item, table row, paragraph of prose and point enumerated in prose is one (see
    :func:`taskchain.report_items.pieces`); blanks, questions and repeats are left out. The
    sections of a capability that concludes come first: a step that checks its evidence and
    then concludes (质量验证 + 结果整合) leads with its conclusions, not with its checks.
    """
    wanted = [(c.key, s) for name in step.capabilities for c in [registry.resolve(name)]
              for s in c.sections]  # fmt: skip
    # The sections are read as the checks read them (in this order), so a report finds what
    # was accepted; only the order they are reported in changes.
    found = read_sections(output, [SectionName(s.key, s.names()) for _, s in wanted])
    out: list[Drawn] = []
    seen: set[tuple[str, str]] = set()
    for capability, section in sorted(wanted, key=lambda pair: pair[0] not in _SYNTHESIS):
        if section.role not in _ROLES or section.key not in found:
            continue
        for piece in pieces(found[section.key].body, language):
            if is_placeholder(piece.text) or (section.role, piece.text) in seen:
                continue
            seen.add((section.role, piece.text))
            out.append(Drawn(section.role, step, piece, capability in _SYNTHESIS))
    return out


def restates(step: StepSpec, output: str, text: str, registry: CapabilityRegistry) -> bool:
    """Whether ``text`` (a step's gist) lies in a section that frames the task — its core
    question, scope, criteria or constraints (role ``context``): the goal restated, which a
    report never gives as a finding, even when it ends with a full stop."""
    specs = [s for name in step.capabilities for s in registry.resolve(name).sections]
    framing = [s.key for s in specs if s.role == "context"]
    if not framing:
        return False
    found = read_sections(output, [SectionName(s.key, s.names()) for s in specs])
    said = _flat(text.rstrip("…"))
    return bool(said) and any(said in _flat(found[k].body) for k in framing if k in found)


def _flat(text: str) -> str:
    """``text`` as plain text on one line: what a gist is compared in."""
    return " ".join(unmark(text).split())


def quoted(findings: list[Drawn]) -> list[Drawn]:
    """The findings a summary quotes as the main conclusions, in order.

    The conclusions, when a step drew any (a research chain's 核心结论, not its 验证结果);
    else every finding. Lead-ins are left out, unless nothing else is left.
    """
    said = [d for d in findings if d.concludes] or findings
    return [d for d in said if not d.piece.lead_in] or said


def ranks(definition: ChainDefinition, registry: CapabilityRegistry) -> dict[str, tuple[int, ...]]:
    """Each step's place among the report's items: synthesising steps first, then chain order.

    A step no other step depends on (a sink of the chain) comes first, and among those the ones
    that synthesise (``结果整合``); then other synthesising steps; then the rest in chain order.
    """
    depended_on = {d for s in definition.steps for d in s.dependencies}

    def synthesises(step: StepSpec) -> bool:
        return any(registry.resolve(c).key in _SYNTHESIS for c in step.capabilities)

    return {
        step.id: (step.id in depended_on, not synthesises(step), i)
        for i, step in enumerate(definition.steps)
    }
