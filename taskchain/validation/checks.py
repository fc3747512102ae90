"""Applying a step's rules to its output: one verdict per rule, with feedback that quotes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from types import MappingProxyType

from taskchain.capabilities import CapabilityRegistry
from taskchain.models import ChainDefinition, Feedback, Fingerprint, Rule, StepSpec
from taskchain.structure import SectionName, read_sections
from taskchain.substance import content_tokens, term_pieces
from taskchain.validation.content_checks import CONTENT_CHECKS
from taskchain.validation.context import Context, t
from taskchain.validation.earlier import fingerprints
from taskchain.validation.form_checks import FORM_CHECKS
from taskchain.validation.json_check import schema_check
from taskchain.validation.memo import ByIdentity
from taskchain.validation.repeat_checks import internal_repeat
from taskchain.validation.rules import required_sections, rules_for

# Rules an outline (the builtin executor's output) is not held to: it has no content yet.
_NOT_FOR_OUTLINES = frozenset(
    {"length", "min_items", "mentions", "reasoning", "focus_area", "on_topic", "no_filler"}
    | {"concrete"}
    | {"no_internal_repeat", "not_repeat"}
)
# The kinds of rule that read the outputs of earlier steps.
_READ_EARLIER = frozenset({"on_topic", "not_repeat"})
_CHECKS: Mapping[str, Callable[[Context, Rule], Feedback]] = {
    **FORM_CHECKS,
    **CONTENT_CHECKS,
    "no_internal_repeat": internal_repeat,
    "json_schema": schema_check,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The feedback on one output and whether it is accepted (no failed error-severity check).

    ``rules`` are the rules judged, one per feedback entry in the same order: a feedback entry
    carries only its rule's id, which every focus area's rule shares.
    """

    feedback: tuple[Feedback, ...]
    rules: tuple[Rule, ...] = ()

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
    earlier: Mapping[str, str | Fingerprint],
    outline: bool = False,
) -> Verdict:
    """Judge ``output`` for ``step`` by every rule of :func:`rules_for`, and nothing else.

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
        Outputs of the steps already completed, by step id, for the near-copy and on-topic
        checks: each as its :class:`~taskchain.models.Fingerprint` (what the engine keeps with
        an accepted step) or as its text (fingerprinted here when a check reads it; the
        verdicts are the same).
    outline
        The output is an outline to be filled in (the builtin executor's): rules about content
        are reported as ``info``, since an outline has no content to judge yet.
    """
    lang = definition.config.language
    facts = _FACTS.get(
        (definition, step, registry), step.id, lambda: _facts(definition, step, registry)
    )
    rules = facts.rules
    # Only the checks of earlier outputs read them: texts are not fingerprinted for nothing.
    reads_earlier = facts.reads_outline if outline else facts.reads
    ctx = Context(
        lang=lang,
        output=output,
        sections=read_sections(output, facts.wanted),
        keys=facts.keys,
        names=facts.names,
        known=facts.known,
        wording=facts.wording,
        definition=definition,
        step=step,
        earlier=fingerprints(earlier, definition) if reads_earlier else {},
    )
    feedback = []
    for rule in rules:
        if outline and _exempt(rule):
            # An outline has no content yet: say so rather than judge it.
            feedback.append(
                Feedback(
                    rule=rule.rule,
                    passed=False,
                    severity="info",
                    message=t(lang, "提纲不评判此项：", "not judged for an outline: ")
                    + rule.description,
                )
            )
            continue
        feedback.append(_CHECKS[rule.kind](ctx, rule))
    return Verdict(tuple(feedback), rules)


@dataclass(frozen=True, slots=True)
class _StepFacts:
    """What the checks of one step read of its chain, whatever the output."""

    rules: tuple[Rule, ...]
    reads: bool  # whether a rule reads the earlier outputs
    reads_outline: bool  # the same, for an outline
    wanted: tuple[SectionName, ...]
    keys: Mapping[str, str]
    names: tuple[str, ...]
    known: frozenset[str]
    wording: frozenset[str]


_FACTS: ByIdentity[_StepFacts] = ByIdentity()


def _facts(definition: ChainDefinition, step: StepSpec, registry: CapabilityRegistry) -> _StepFacts:
    """Derive what the checks of ``step`` read of its chain."""
    lang = definition.config.language
    rules = rules_for(definition, step, registry)
    specs = required_sections(step, registry)
    wording = _wording(definition, step, registry)
    return _StepFacts(
        rules=rules,
        reads=any(r.kind in _READ_EARLIER for r in rules),
        reads_outline=any(r.kind in _READ_EARLIER and not _exempt(r) for r in rules),
        wanted=tuple(SectionName(s.key, s.names()) for s, _ in specs),
        keys=MappingProxyType({s.title.get(lang): s.key for s, _ in specs}),
        names=(
            definition.target,
            *term_pieces(definition.target),
            *definition.config.focus_areas,
            *(n for s, _ in specs for n in s.names()),
        ),
        known=_known(definition) | wording,
        wording=wording,
    )


def _wording(
    definition: ChainDefinition, step: StepSpec, registry: CapabilityRegistry
) -> frozenset[str]:
    """The words of the step's own instructions: its name, description, questions, titles."""
    lang = definition.config.language
    texts = [step.name, step.description]
    for section, cap in required_sections(step, registry):
        texts += section.names()
        if cap is not None:
            texts += cap.checklist.get(lang)
    return frozenset(chain.from_iterable(map(content_tokens, texts)))


def _known(definition: ChainDefinition) -> frozenset[str]:
    """Words an output gets from its instructions: the names of the target and focus areas
    (and the step's own wording, added by the caller). Saying them is not content."""
    names = [definition.target, *definition.config.focus_areas]
    return frozenset(chain.from_iterable(map(content_tokens, names)))


def _exempt(rule: Rule) -> bool:
    """Whether an outline is excused from ``rule``."""
    return rule.kind in _NOT_FOR_OUTLINES and rule.rule != "max_length"
