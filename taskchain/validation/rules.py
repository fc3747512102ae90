"""The rules a step's output is judged by, derived from the chain and stated up front."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from taskchain.capabilities import CapabilityRegistry
from taskchain.models import (
    Capability,
    ChainDefinition,
    CheckSpec,
    Depth,
    Localized,
    Rule,
    SectionSpec,
    StepSpec,
)
from taskchain.substance import term_pieces
from taskchain.text import normalize

# Content units (one per CJK character or Latin word) expected at each depth. The floor is low
# on purpose: a careful answer is judged on what it says, and length alone refuses little.
DEPTH_BOUNDS: Mapping[str, tuple[int, int]] = {
    "basic": (60, 1500),
    "detailed": (150, 4000),
    "comprehensive": (300, 8000),
}
# Units a required section must hold under its title.
SECTION_MIN_UNITS = 8
# Specific units (beyond names and generic wording) a passage about a focus area must hold.
FOCUS_MIN_UNITS: Mapping[str, int] = {"basic": 6, "detailed": 8, "comprehensive": 10}
# The largest share of the output's units that filler sentences may take.
FILLER_MAX_SHARE: Mapping[str, float] = {"basic": 0.4, "detailed": 0.35, "comprehensive": 0.3}
# A sentence needs this many specific units (or a figure, name or example) not to be filler.
FILLER_SENTENCE_UNITS = 3
# Share of the target's key terms (at most the first 20) that the output must use.
ON_TOPIC_SHARE = 0.35
ON_TOPIC_MAX_PIECES = 40
# From the second step on, the output's most used words (ON_TOPIC_TOP of them, the step's own
# wording aside) are compared with the target and the earlier steps' outputs: ON_TOPIC_SHARED of
# them must be shared, or ON_TOPIC_SHARED_WITH_TERMS when the target's words appear too.
ON_TOPIC_TOP = 12
ON_TOPIC_SHARED = 6
ON_TOPIC_SHARED_WITH_TERMS = 4
# The least share of the output's units written in the session's language.
LANGUAGE_SHARE = {"zh": 0.5, "en": 0.6}
# A sentence at least this long may not appear twice in one output.
REPEAT_SENTENCE_UNITS = 10

# Rules a step may switch off with ``validation_rules.skip_rules`` (capability rules too).
SKIPPABLE: frozenset[str] = frozenset(
    {"focus_area", "on_topic", "no_filler", "no_internal_repeat", "language", "not_repeat"}
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


def on_topic_terms(target: str) -> tuple[tuple[str, ...], int]:
    """The pieces of the target's key terms judged by ``on_topic``, and how many must appear.

    A Latin key word is one piece; a Chinese phrase gives its two-character pieces, so
    "会员订阅制" uses most of "推出会员订阅制" without repeating it whole.
    """
    found = term_pieces(target)[:ON_TOPIC_MAX_PIECES]
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
    return _rules(definition, step, registry)


def _rules(
    definition: ChainDefinition, step: StepSpec, registry: CapabilityRegistry
) -> tuple[Rule, ...]:
    """Derive the rules (no caching: definitions are cheap to walk and rarely repeated)."""
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
        out.append(_section_rule(lang, section))
    caps = (
        ()
        if step.validation_rules.required_sections is not None
        else tuple(registry.resolve(name) for name in dict.fromkeys(step.capabilities))
    )
    for cap in caps:
        for spec in cap.checks:
            if spec.rule not in skip:
                out.append(_capability_rule(lang, cap, spec))
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
                    f"具体讨论关注点「{area}」：至少有一处（一段话、一个列表项、一行表格，或以它为"
                    f"标题的一节）点名「{area}」（写出全称或其中大部分字词均可），并写出它在本步骤中"
                    f"的具体内容——除去名称和通用说法后至少 {n} 个字的事实、数字、原因或做法；只罗列"
                    "关注点名称的句子不算",
                    f"discuss the focus area '{area}': at least one passage (a paragraph, list "
                    f"item, table row or a section titled with it) names '{area}' (any case; the "
                    "main words of the name are enough) and says something concrete about it for "
                    f"this step — at least {n} specific words (facts, figures, causes or actions) "
                    "beyond the names and generic wording; a sentence that only lists focus-area "
                    "names does not count",
                ),
            )
            for area in definition.config.focus_areas
        )
    terms, needed = on_topic_terms(definition.target)
    if terms and "on_topic" not in skip and not json_step:
        out.append(_on_topic_rule(lang, definition.target, terms, needed, bool(step.dependencies)))
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


def _on_topic_rule(
    lang: str, target: str, terms: tuple[str, ...], needed: int, later: bool
) -> Rule:
    """The rule that the output is about the target (and, later on, carries on the chain)."""
    share = f"{ON_TOPIC_SHARE:.0%}"
    if not later:
        return Rule(
            rule="on_topic",
            kind="on_topic",
            terms=terms,
            min_items=needed,
            min_share=ON_TOPIC_SHARE,
            description=_t(
                lang,
                f"写的是本任务的对象「{target}」：对象名称里的字词（按单词和相邻两字计，共 "
                f"{len(terms)} 个）至少有 {share}（{needed} 个）出现在输出中；关注点的名称不算",
                f"is about this task's subject “{target}”: at least {share} ({needed}) of its "
                f"{len(terms)} key words appear in the output; focus-area names do not count",
            ),
        )
    return Rule(
        rule="on_topic",
        kind="on_topic",
        terms=terms,
        min_share=ON_TOPIC_SHARE,
        top_words=ON_TOPIC_TOP,
        min_shared=ON_TOPIC_SHARED,
        min_shared_with_terms=ON_TOPIC_SHARED_WITH_TERMS,
        description=_t(
            lang,
            f"接着写本任务的对象「{target}」：输出中最常用的 {ON_TOPIC_TOP} 个词（本步骤说明里的词和"
            f"关注点名称除外）至少有 {ON_TOPIC_SHARED} 个也出现在对象名称或之前各步的输出里；或者至少 "
            f"{ON_TOPIC_SHARED_WITH_TERMS} 个，同时对象名称里、之前各步用过的字词（按单词和相邻两字计）"
            f"至少用到 {share}",
            f"carries on with this task's subject “{target}”: at least {ON_TOPIC_SHARED} of the "
            f"output's {ON_TOPIC_TOP} most used words (this step's own wording and focus-area names "
            "aside) also appear in the subject or in the earlier steps' outputs; or at least "
            f"{ON_TOPIC_SHARED_WITH_TERMS}, with at least {share} of the subject's key words that "
            "the earlier steps used",
        ),
    )


def _section_rule(lang: str, section: SectionSpec) -> Rule:
    """The rule that a required section is present and has content."""
    title = section.title.get(lang)
    others = tuple(n for n in section.names() if n != title)
    shown = [n for n in others if _is_lang(n, lang)]  # all are accepted; the rest are shown
    also = ("、".join(shown) if lang != "en" else ", ".join(shown)) if shown else ""
    return Rule(
        rule=f"section:{section.key}",
        kind="section",
        section=title,
        aliases=others,
        min_units=SECTION_MIN_UNITS,
        description=_t(
            lang,
            f"有小节「{title}」，其下至少 {SECTION_MIN_UNITS} 个单位的内容；标题可以写成“## {title}”、"
            f"“**{title}**”、“【{title}】”、“一、{title}”或以“{title}：”开头的行"
            + (f"，也认可：{also}" if also else ""),
            f"a section '{title}' with at least {SECTION_MIN_UNITS} words under it; the title may "
            f"be a heading ('## {title}'), a bold line, a numbered heading or a line starting "
            f"'{title}:'" + (f"; also accepted: {also}" if also else ""),
        ),
    )


def _capability_rule(lang: str, cap: Capability, spec: CheckSpec) -> Rule:
    """The rule a capability's check states."""
    section = next((s for s in cap.sections if s.key == spec.section), None)
    title = section.title.get(lang) if section else None
    where = f"「{title}」" if title and lang != "en" else (f"'{title}'" if title else "")
    if spec.kind == "min_items":
        figures = _t(
            lang,
            "，其中每条都要写明时间、数量或目标值等数字",
            "; each must state a figure (a time, an amount or a target value)",
        )
        return Rule(
            rule=spec.rule,
            kind="min_items",
            section=title,
            min_items=spec.count,
            with_figures=spec.with_figures or None,
            description=_t(
                lang,
                f"{where}下至少 {spec.count} 条分开的条目：列表项、编号行、表格的行、子标题、"
                "各自成段的要点，或正文中“一是……二是……”“首先……其次……”式的分项都算",
                f"{where} holds at least {spec.count} separate items: list items, numbered lines, "
                "table rows, sub-headings, separate paragraphs, or points enumerated in prose "
                "('first…, second…') all count",
            )
            + (figures if spec.with_figures else ""),
        )
    if spec.kind == "mentions":
        shown = [
            "/".join(w for w in group if _is_lang(w, lang))[:40] or "/".join(group)
            for group in spec.groups
        ]
        joined = "和".join(f"（{s}）" for s in shown) if lang != "en" else " and ".join(shown)
        return Rule(
            rule=spec.rule,
            kind="mentions",
            section=title,
            groups=spec.groups,
            description=_t(
                lang,
                f"{where or '输出'}中写明{joined}（每组用到其中一个词即可，整节写到一次就算）",
                f"{where or 'the output'} states {joined} (any one word of each group, once in "
                "the section is enough)",
            ),
        )
    return Rule(
        rule=spec.rule,
        kind="reasoning",
        section=title,
        min_links=spec.count,
        description=_t(
            lang,
            f"{where or '输出'}把推理一步步写出来，至少 {spec.count} 处推理环节：编号的前提及由此推出"
            "的结论、“A → B”式的链条、“如果……就/那么……”的条件句，或“因为……所以……”“……导致……”"
            "这样的因果句，每处算一个环节",
            f"{where or 'the output'} shows the reasoning step by step, with at least {spec.count} "
            "links: numbered premises and what follows from them, an 'A → B' chain, if-then "
            "sentences, or cause-effect sentences ('because…', '…leads to…'); each counts as one",
        ),
    )


def _is_lang(word: str, lang: str) -> bool:
    """Whether ``word`` is written in ``lang``'s script."""
    return word.isascii() == (lang == "en")


def rule_ids(rules: Iterable[Rule]) -> frozenset[str]:
    """The ids of ``rules``."""
    return frozenset(r.rule for r in rules)


@lru_cache(maxsize=128)
def compiled_schema(schema_json: str) -> Any:
    """A compiled validator for a JSON schema given as canonical JSON text (cached)."""
    import fastjsonschema  # only custom steps with a json_schema need it: not at cold start

    return fastjsonschema.compile(json.loads(schema_json))
