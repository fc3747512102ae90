"""Checks of an output's substance: focus areas discussed, on topic, no filler, the right
language, and no copy of an earlier step."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from taskchain.models import Feedback, Rule
from taskchain.substance import (
    concrete,
    content_tokens,
    content_words,
    full_sentences,
    has_figure,
    has_term,
    is_filler,
    is_item,
    item_chunks,
    language_share,
    names_area,
    passages,
    sentences,
    specific,
    table_columns,
    top_terms,
    units,
)
from taskchain.text import counted, lazy
from taskchain.validation.context import Context, q, quotes, result, t
from taskchain.validation.earlier import word_set


def _focus(ctx: Context, rule: Rule) -> Feedback:
    area = rule.area or ""
    need = rule.min_units or 0
    best, best_text = 0, ""
    named = 0
    for text in _about(ctx, area):
        named += 1
        score = specific(text, ctx.known)
        if score > best:
            best, best_text = score, text
    if named == 0:
        return result(
            ctx,
            rule,
            False,
            f"没有提到关注点「{area}」",
            f"focus area '{area}' is not mentioned",
            t(
                ctx.lang,
                f"用一段话或一个列表项点名「{area}」，写出它在本步骤中的具体情况、数字或做法。",
                f"Name '{area}' in a paragraph or list item and say concretely how it bears on "
                "this step (facts, figures, actions).",
            ),
        )
    return result(
        ctx,
        rule,
        best >= need,
        f"关注点「{area}」有具体讨论：「{q(best_text)}」"
        if best >= need
        else f"关注点「{area}」被提到 {named} 次，但没有一处具体讨论它（最多 {best} 个字的具体内容，"
        f"需要 {need}）" + (f"：「{q(best_text)}」" if best_text else ""),
        f"focus area '{area}' is discussed: '{q(best_text)}'"
        if best >= need
        else f"focus area '{area}' is named {counted(named, 'time')} but never discussed (at most "
        f"{counted(best, 'specific word')}, {need} needed)"
        + (f": '{q(best_text)}'" if best_text else ""),
        t(
            ctx.lang,
            f"写一段专门讲「{area}」的内容：它在本步骤中具体是什么情况、有什么数字或例子、要怎么做。",
            f"Write a passage about '{area}' itself: what it concretely means for this step, with "
            "figures or examples, and what to do.",
        ),
    )


def _about(ctx: Context, area: str) -> list[str]:
    """The stretches of the output that are about ``area``.

    The block under a heading or label that names it; a list item or table row that names it
    (an item is one point); in running text, the sentence that names it with the sentence after
    it, or with the rest of its paragraph when it is only a label or a lead-in ("成本方面：").
    A sentence that names several focus areas at once is taken alone: listing them together
    says nothing about any one of them. A table column headed by the area is about it too.
    """
    areas = ctx.definition.config.focus_areas
    out: list[str] = []
    for heading, text in passages(ctx.output):
        if heading:
            if names_area(heading, area):
                out.append(f"{heading}\n{text}")
            continue
        if not names_area(text, area):
            continue
        lead = text.strip().splitlines()[0].rstrip()
        if lead.endswith((":", "：")) and names_area(lead, area):
            out.append(text)  # "成本方面：" and the list it introduces
            continue
        for chunk in item_chunks(text):
            if names_area(chunk, area):
                out.extend(_sentences_about(chunk, area, areas))
    for column in table_columns(ctx.output):
        head = column.split("：", 1)[0]
        if names_area(head, area) and not any(a != area and names_area(head, a) for a in areas):
            out.append(column)  # a column headed by the area: its cells are about it
    return out


def _sentences_about(chunk: str, area: str, areas: tuple[str, ...]) -> list[str]:
    """In one list item or stretch of running text, what is said about ``area``."""

    def others(sentence: str) -> bool:
        return any(a != area and names_area(sentence, a) for a in areas)

    out: list[str] = []
    said = full_sentences(chunk)
    for i, sentence in enumerate(said):
        if not names_area(sentence, area):
            continue
        if others(sentence):
            # A label naming several areas ("**成本与留存：** …") opens what is said of each.
            label = _OPENING_LABEL().match(sentence) if i == 0 else None
            joint = label is not None and names_area(label.group("label"), area)
            out.append(chunk if joint else _span(sentence, area, areas))
        elif is_item(chunk):
            out.append(chunk)  # an item is one point
        else:
            # What follows belongs to the area until a sentence turns to another one.
            following = said[i + 1 :] if _label_only(sentence, area) else said[i + 1 : i + 2]
            kept = [sentence]
            for nxt in following:
                if others(nxt) or _NEW_POINT.match(nxt):
                    break
                kept.append(nxt)
            out.append(" ".join(kept))
    return out


_OPENING_LABEL = lazy(r"^\s*(?:[-*+]\s+)?(?:\*\*)?(?P<label>[^:：*\n]{1,80}?)(?:\*\*)?\s*[:：]")


def _span(sentence: str, area: str, areas: tuple[str, ...]) -> str:
    """In a sentence that names several areas, the part about ``area``: from its name to the
    next area's name ("A 和 B 都很重要" says nothing of A); by clauses when a name is partial."""
    lowered = sentence.lower()
    start = lowered.find(area.lower())
    if start < 0:
        return "，".join(c for c in _CLAUSE.split(sentence) if names_area(c, area))
    ends = [
        i for a in areas if a != area and (i := lowered.find(a.lower(), start + len(area))) >= 0
    ]
    return sentence[start : min(ends, default=len(sentence))]


def _label_only(sentence: str, area: str) -> bool:
    """Whether ``sentence`` is little more than the area's name (a label or a lead-in)."""
    return sentence.rstrip().endswith((":", "：")) or units(sentence) <= units(area) + 3


def _on_topic(ctx: Context, rule: Rule) -> Feedback:
    # Naming the focus areas says nothing about the subject: their names are not counted.
    areas = ctx.definition.config.focus_areas
    lowered = ctx.output.lower()
    for area in sorted(areas, key=len, reverse=True):
        lowered = lowered.replace(area.lower(), " ")
    target = ctx.definition.target
    terms = rule.terms or ()
    earlier = [fp for step_id, fp in ctx.earlier.items() if step_id != ctx.step.id]
    if earlier:
        # Only the target's words the chain itself has used, outside quotations of the target
        # ("区咖" of "社区咖啡" is a piece no one writes).
        said = frozenset(p for fp in earlier for p in fp.topic)
        attested = tuple(p for p in terms if p in said)
        terms = attested if len(attested) >= _MIN_ATTESTED else terms
    used = [p for p in terms if has_term(lowered, p)]
    need = max(1, math.ceil(len(terms) * (rule.min_share or 0.0))) if terms else 0
    sep = "、" if ctx.lang != "en" else ", "
    if rule.top_words is None or not earlier:
        passed = len(used) >= need
        return result(
            ctx,
            rule,
            passed,
            f"围绕对象「{q(target)}」：用到其名称中的字词 {len(used)}/{len(terms)} 个（需要 {need} 个）"
            + ("" if passed else "，这份输出看起来写的是别的对象"),
            f"about “{q(target)}”: uses {len(used)}/{len(terms)} of its key words ({need} needed)"
            + ("" if passed else "; this output seems to be about another subject"),
            _retarget(ctx, target),
        )
    top = top_terms(lowered, rule.top_words, skip=ctx.wording | content_words(" ".join(areas)))
    # The words of the target or of an earlier output (its fingerprint's).
    named, used_before = content_words(target), [word_set(fp) for fp in earlier]
    shared = [w for w in top if w in named or any(w in s for s in used_before)]
    passed = len(shared) >= (rule.min_shared or 0) or (
        len(shared) >= (rule.min_shared_with_terms or 0) and len(used) >= need
    )
    strange = [w for w in top if w not in shared][:6]
    return result(
        ctx,
        rule,
        passed,
        f"围绕对象「{q(target)}」：最常用的 {len(top)} 个词中有 {len(shared)} 个来自对象名称或之前各步"
        f"，对象名称里的字词用到 {len(used)}/{len(terms)} 个"
        + (
            ""
            if passed
            else f"；这份输出看起来写的是别的对象（常用而前文没有的词：{sep.join(strange)}）"
        ),
        f"about “{q(target)}”: {len(shared)} of its {len(top)} most used words come from the "
        f"subject or the earlier steps, and it uses {len(used)}/{len(terms)} of the subject's key "
        "words"
        + (
            ""
            if passed
            else f"; this output seems to be about another subject (frequent words the earlier "
            f"steps never used: {sep.join(strange)})"
        ),
        _retarget(ctx, target),
    )


@lru_cache(maxsize=256)
def _name_tokens(names: tuple[str, ...]) -> frozenset[str]:
    """The content words of the names of the target, focus areas and sections."""
    return frozenset().union(*map(content_words, names))


def _retarget(ctx: Context, target: str) -> str:
    """The hint for an output about another subject."""
    return t(
        ctx.lang,
        f"针对「{q(target)}」本身来写，用它自己的名称和说法，接着之前各步的内容往下写。",
        f"Write about “{q(target)}” itself, in its own terms, carrying on from the earlier steps.",
    )


# A short label opening a sentence ("Source 1:", "**Pattern 2 — Tell a story:**", "成本："):
# its number counts the points, and it names the point rather than saying anything.
_LABEL = lazy(r"^[\W_]*(?:[^\W_]+[^:：。.!?\n]{0,40}?)[:：][*_]*\s*")
_LABEL_WORDS = 6


def _unlabelled(sentence: str) -> str:
    """``sentence`` without a short label opening it."""
    if ":" not in sentence and "：" not in sentence:
        return sentence  # a label ends in a colon
    match = _LABEL().match(sentence)
    if match is None or units(match.group()) > _LABEL_WORDS or match.end() == len(sentence):
        return sentence
    return sentence[match.end() :]


@lru_cache(maxsize=4096)
def _content(sentence: str, names: tuple[str, ...]) -> str:
    """What ``sentence`` says as content: a short label opening it left out, and the ``names``
    that hold a figure ("瑞幸咖啡2025年进入美国市场"): repeating such a name states no figure.
    Cached: the filler and concreteness checks read the same sentences."""
    said = _unlabelled(sentence)
    pattern = _figure_names(names)
    return said if pattern is None else pattern.sub(" ", said)


@lru_cache(maxsize=256)
def _figure_names(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """The ``names`` that hold a figure, longest first, as one pattern; ``None`` if none does."""
    named = sorted((n for n in names if has_figure(n)), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, named)), re.IGNORECASE) if named else None


def _filler(ctx: Context, rule: Rule) -> Feedback:
    min_units = rule.min_units or 0
    found = sentences(ctx.output)
    total = sum(map(units, found)) or 1
    filler = [s for s in found if is_filler(_content(s, ctx.names), ctx.known, min_units)]
    share = sum(map(units, filler)) / total
    limit = rule.max_share or 0.0
    quoted = quotes(ctx, filler[:4])
    return result(
        ctx,
        rule,
        share <= limit,
        f"空话占 {share:.0%}（上限 {limit:.0%}）" + (f"，例如：{quoted}" if share > limit else ""),
        f"filler is {share:.0%} of the text (limit {limit:.0%})"
        + (f", e.g. {quoted}" if share > limit else ""),
        t(
            ctx.lang,
            "把这些句子换成具体内容：写出是什么、多少、谁、哪里、怎么做，或举一个例子；说不出具体内容的"
            "句子就删掉。",
            "Replace these sentences with specifics — what, how much, who, where, how — or an "
            "example; delete the ones that say nothing specific.",
        ),
    )


def _concrete(ctx: Context, rule: Rule) -> Feedback:
    weighed = [s for s in sentences(ctx.output) if units(s) >= (rule.min_units or 0)]
    total = sum(map(units, weighed)) or 1
    vague = [s for s in weighed if not concrete(_content(s, ctx.names), ctx.known)]
    share = 1 - sum(map(units, vague)) / total
    need = rule.min_share or 0.0
    passed = share >= need
    quoted = quotes(ctx, sorted(vague, key=units, reverse=True)[:3])
    return result(
        ctx,
        rule,
        passed,
        f"含数字、名称或例子的句子占正文的 {share:.0%}（至少 {need:.0%}）"
        + ("" if passed else f"；没有这些的句子如：{quoted}"),
        f"sentences with a figure, a name or an example are {share:.0%} of the text (at least "
        f"{need:.0%})" + ("" if passed else f"; sentences without any, e.g. {quoted}"),
        t(
            ctx.lang,
            "把笼统的说法落到实处：写出数字（金额、时间、比例、数量）、具体名称（人、机构、地点、产品、"
            "文件）或举一个例子。",
            "Make the general statements specific: give figures (amounts, dates, shares, counts), "
            "names (people, organisations, places, products, documents) or an example.",
        ),
    )


def _language(ctx: Context, rule: Rule) -> Feedback:
    share = language_share(
        ctx.output, ctx.lang, (ctx.definition.target, *ctx.definition.config.focus_areas)
    )
    need = rule.min_share or 0.0
    return result(
        ctx,
        rule,
        share >= need,
        f"中文占正文的 {share:.0%}（至少 {need:.0%}）",
        f"English is {share:.0%} of the text (at least {need:.0%})",
        t(
            ctx.lang,
            "本会话使用中文：请用中文写作，名称和术语可以保留原文。",
            "This session is in English: write in English; names and terms may stay as they are.",
        ),
    )


def _not_repeat(ctx: Context, rule: Rule) -> Feedback:
    limit = rule.max_similarity or 1.0
    # The share of the output's content words (names aside) that an earlier output used.
    own = frozenset(content_tokens(ctx.output)) - _name_tokens(ctx.names)
    worst, worst_id = 0.0, ""
    for step_id, fp in ctx.earlier.items():
        if step_id == ctx.step.id or not own:
            continue
        score = len(own & word_set(fp)) / len(own)
        if score > worst:
            worst, worst_id = score, step_id
    other = ctx.definition.step(worst_id)
    name = other.name if other else worst_id
    passed = worst <= limit
    return result(
        ctx,
        rule,
        passed,
        f"与步骤「{name}」的内容重合 {worst:.0%}（上限 {limit:.0%}）"
        if worst_id
        else "没有与之前步骤重复",
        f"{worst:.0%} overlap with step '{name}' (limit {limit:.0%})"
        if worst_id
        else "no repeat of an earlier step",
        t(
            ctx.lang,
            f"不要复述「{name}」：在它的结论之上写本步骤要求的新内容，引用时只概括一句。",
            f"Do not restate '{name}': build on its conclusions with what this step asks for, "
            "and summarise it in a sentence when you refer to it.",
        ),
    )


_MIN_ATTESTED = 3
_CLAUSE = re.compile(r"[，,；;：:]")
# A sentence that opens a new enumerated point is not about the one before it.
_NEW_POINT = re.compile(
    r"^(?:[一二三四五六七八九十]是|其[一二三四五]|第[一二三四五六七八九十\d]+(?:[，、：:]|点|个|条|类)|首先|其次|再次|最后|另外|此外|"
    r"(?:the\s+)?(?:first|second|third|fourth|fifth|next|another|also|finally|lastly)\b)",
    re.IGNORECASE,
)


CONTENT_CHECKS: Mapping[str, Callable[[Context, Rule], Feedback]] = {
    "focus_area": _focus,
    "on_topic": _on_topic,
    "no_filler": _filler,
    "concrete": _concrete,
    "language": _language,
    "not_repeat": _not_repeat,
}
