"""The rules a step's output is judged by, derived from the chain and stated up front."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from taskchain.capabilities import CapabilityRegistry
from taskchain.lexicon import EN_GENERIC, ZH_GENERIC
from taskchain.models import (
    Capability,
    ChainDefinition,
    Depth,
    Localized,
    Rule,
    SectionSpec,
    StepSpec,
)
from taskchain.substance import term_pieces
from taskchain.text import normalize
from taskchain.validation.memo import ByIdentity
from taskchain.validation.rule_texts import capability_rule, on_topic_rule, section_rule
from taskchain.validation.thresholds import (
    CONCRETE_MIN_SHARE,
    CONCRETE_SENTENCE_UNITS,
    DEPTH_BOUNDS,
    FILLER_MAX_SHARE,
    FILLER_SENTENCE_UNITS,
    FOCUS_MIN_UNITS,
    LANGUAGE_SHARE,
    ON_TOPIC_MAX_PIECES,
    ON_TOPIC_SHARE,
    REPEAT_SENTENCE_UNITS,
)

# Rules a step may switch off with ``validation_rules.skip_rules`` (capability rules too).
SKIPPABLE: frozenset[str] = frozenset(
    {"focus_area", "on_topic", "no_filler", "concrete", "no_internal_repeat", "language"}
    | {"not_repeat"}
)


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
            (SectionSpec(key=f"custom_{i}", title=Localized(zh=title, en=title)), None)
            for i, title in enumerate(override)
        )
    out: list[tuple[SectionSpec, Capability | None]] = []
    titles: set[str] = set()
    for name in step.capabilities:
        cap = registry.resolve(name)
        for section in cap.sections:
            # Two capabilities of one step may ask for the same section ("实施方案"): one
            # section of that title serves both, and each capability's checks read it.
            key = normalize(section.title.zh)
            if key not in titles:
                titles.add(key)
                out.append((section, cap))
    return tuple(out)


_GENERIC = EN_GENERIC | ZH_GENERIC


def on_topic_terms(target: str) -> tuple[tuple[str, ...], int]:
    """The pieces of the target's key terms judged by ``on_topic``, and how many must appear.

    A Latin key word is one piece; a Chinese phrase gives its two-character pieces, so
    "会员订阅制" uses most of "推出会员订阅制" without repeating it whole.
    """
    pieces = term_pieces(target)
    # Generic words and bare figures ("decision", "impact", "2025") name no subject: any answer
    # may use them. They count only when the target has too few others.
    telling = tuple(p for p in pieces if p not in _GENERIC and not p.isdigit())
    found = (telling if len(telling) >= 2 else pieces)[:ON_TOPIC_MAX_PIECES]
    return found, max(1, math.ceil(len(found) * ON_TOPIC_SHARE)) if found else 0


def rules_for(
    definition: ChainDefinition, step: StepSpec, registry: CapabilityRegistry
) -> tuple[Rule, ...]:
    """Every rule ``step``'s output will be judged by, described in the session's language.

    Parameters
    ----------
    definition
        The chain: target, depth, focus areas and language decide the rules' parameters.
    step
        The step; its ``validation_rules`` may override bounds and switch rules off.
    registry
        Resolves the step's capabilities to their sections and checks.

    Returns
    -------
    tuple of Rule
        In the order the checks run. Feedback entries carry these ``rule`` ids.
    """
    return _RULES.get(
        (definition, step, registry), step.id, lambda: _rules(definition, step, registry)
    )


# A step's rules are stated in its guidance and applied at its submit: derived once.
_RULES: ByIdentity[tuple[Rule, ...]] = ByIdentity()


def _rules(
    definition: ChainDefinition, step: StepSpec, registry: CapabilityRegistry
) -> tuple[Rule, ...]:
    """Derive the rules."""
    lang = definition.config.language
    depth = definition.config.depth
    skip = set(step.validation_rules.skip_rules)
    json_step = step.validation_rules.json_schema is not None
    low, high = length_bounds(depth, step)
    out: list[Rule] = [
        Rule(
            rule="min_length",
            kind="length",
            min_units=low,
            description=_t(
                lang,
                f"篇幅至少 {low} 个单位（1 个汉字或 1 个英文单词算 1 个单位）",
                f"at least {low} units long (1 unit = 1 English word or 1 Chinese character)",
            ),
        ),
        Rule(
            rule="max_length",
            kind="length",
            max_units=high,
            description=_t(lang, f"篇幅不超过 {high} 个单位", f"at most {high} units long"),
        ),
    ]
    sections = required_sections(step, registry)
    for section, _cap in sections:
        out.append(section_rule(lang, section))
    caps = (
        ()
        if step.validation_rules.required_sections is not None
        else tuple(registry.resolve(name) for name in dict.fromkeys(step.capabilities))
    )
    for cap in caps:
        for spec in cap.checks:
            if spec.rule not in skip:
                out.append(capability_rule(lang, cap, spec))
    if step.validation_rules.require_focus_areas and "focus_area" not in skip:
        n = FOCUS_MIN_UNITS[depth]
        out.extend(
            Rule(
                rule="focus_area",
                kind="focus_area",
                area=area,
                min_units=n,
                description=_t(
                    lang,
                    f"具体讨论关注点「{area}」：至少有一处（一段话、一个列表项、表格的一行或一列、"
                    f"单独一行的“{area}：”连同其下一段，或以它为标题的一节）点名「{area}」（写出全称，"
                    "或其中至少一半、至少两个的两字词均可），并写出它在本步骤中的具体内容——除去名称和通用说法后"
                    f"至少 {n} 个字的事实、数字、原因或做法；只罗列关注点名称的句子不算，但以几个关注点"
                    "为题的标签（“**甲与乙：** ……”）之后的内容算作对每一个的讨论",
                    f"discuss the focus area '{area}': at least one passage (a paragraph, list "
                    f"item, table row or column, a line '{area}:' with the paragraph below it, or a "
                    "section titled with it) names "
                    f"'{area}' (any case; the main words of the name are enough) and says something "
                    f"concrete about it for this step — at least {n} specific words (facts, figures, "
                    "causes or actions) beyond the names and generic wording; a sentence that only "
                    "lists focus-area names does not count, but what follows a label naming several "
                    "('**A and B:** …') counts for each",
                ),
            )
            for area in definition.config.focus_areas
        )
    terms, needed = on_topic_terms(definition.target)
    if terms and "on_topic" not in skip and not json_step:
        out.append(on_topic_rule(lang, definition.target, terms, needed, bool(step.dependencies)))
    if "no_filler" not in skip and not json_step:
        share = FILLER_MAX_SHARE[depth]
        out.append(
            Rule(
                rule="no_filler",
                kind="no_filler",
                max_share=share,
                min_units=FILLER_SENTENCE_UNITS,
                description=_t(
                    lang,
                    f"空话不超过全文的 {share:.0%}：一句话除去对象、关注点和小节的名称以及“需要综合"
                    f"考虑”“多方面”“进一步优化”这类通用说法后，具体内容不足 {FILLER_SENTENCE_UNITS} "
                    "个字，且没有数字、名称或例子，就算空话",
                    f"filler is at most {share:.0%} of the text: a sentence is filler when, beyond "
                    "the names of the subject, focus areas and sections and generic wording "
                    "(“consider various factors”, “take a holistic view”), it has fewer than "
                    f"{FILLER_SENTENCE_UNITS} specific words and no figure, name or example",
                ),
            )
        )
    if "concrete" not in skip and not json_step:
        out.append(
            Rule(
                rule="concrete",
                kind="concrete",
                min_share=CONCRETE_MIN_SHARE,
                min_units=CONCRETE_SENTENCE_UNITS,
                description=_t(
                    lang,
                    f"内容具体：含有数字、名称或例子（“例如”“比如”）的句子至少占正文的 "
                    f"{CONCRETE_MIN_SHARE:.0%}（不足 {CONCRETE_SENTENCE_UNITS} 个字的标题和标签不计）",
                    "specific content: sentences carrying a figure, a name or an example (“for "
                    f"example”, “such as”) make up at least {CONCRETE_MIN_SHARE:.0%} of the text "
                    f"(headings and labels under {CONCRETE_SENTENCE_UNITS} words aside)",
                ),
            )
        )
    if "no_internal_repeat" not in skip and not json_step:
        out.append(
            Rule(
                rule="no_internal_repeat",
                kind="no_internal_repeat",
                min_units=REPEAT_SENTENCE_UNITS,
                description=_t(
                    lang,
                    f"同一句话（{REPEAT_SENTENCE_UNITS} 个字以上）或几乎相同的一段话不在输出中重复出现",
                    f"no sentence ({REPEAT_SENTENCE_UNITS}+ words) and no near-identical paragraph "
                    "appears twice",
                ),
            )
        )
    if "language" not in skip and not json_step:
        share = LANGUAGE_SHARE["en" if lang == "en" else "zh"]
        out.append(
            Rule(
                rule="language",
                kind="language",
                min_share=share,
                description=_t(
                    lang,
                    f"用中文写作：中文至少占正文的 {share:.0%}（名称、术语和引文可以用其他语言）",
                    f"written in English: at least {share:.0%} of the text (names, terms and "
                    "quotations in other languages are fine)",
                ),
            )
        )
    if "not_repeat" not in skip:
        limit = step.validation_rules.max_similarity
        out.append(
            Rule(
                rule="not_repeat",
                kind="not_repeat",
                max_similarity=limit,
                description=_t(
                    lang,
                    f"不照搬之前的步骤：本输出用到的实词（通用说法以外的词语，按单词和相邻两字计）中，"
                    f"出现在任何一个已完成步骤输出里的不超过 {limit:.0%}；换个说法或调换顺序的照搬也算",
                    f"not a copy of an earlier step: at most {limit:.0%} of the content words this "
                    "output uses (beyond generic wording) appear in any one completed step's output, "
                    "so reworded or reordered copies count",
                ),
            )
        )
    if json_step:
        out.append(
            Rule(
                rule="json_schema",
                kind="json_schema",
                description=_t(
                    lang,
                    "输出是符合本步骤 json_schema 的 JSON（可放在 ```json 代码块中）",
                    "the output is JSON valid against this step's json_schema (a ```json block is "
                    "fine)",
                ),
            )
        )
    return tuple(out)


def rule_ids(rules: Iterable[Rule]) -> frozenset[str]:
    """The ids of ``rules``."""
    return frozenset(r.rule for r in rules)


@lru_cache(maxsize=128)
def compiled_schema(schema_json: str) -> Any:
    """A compiled validator for a JSON schema given as canonical JSON text (cached)."""
    import fastjsonschema  # only custom steps with a json_schema need it: not at cold start

    return fastjsonschema.compile(json.loads(schema_json))
