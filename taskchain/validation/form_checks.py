"""Checks of an output's form: its length, its sections, the items and reasoning in them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from taskchain.items import items
from taskchain.models import Feedback, Rule
from taskchain.structure import Section
from taskchain.substance import has_figure, has_term, sentences, units
from taskchain.text import counted
from taskchain.validation.context import Context, q, quotes, result, t

_ARROW = re.compile(r"→|⇒|⟶|->|=>|⟹")
_CAUSAL = re.compile(
    r"因为|由于|所以|因此|因而|于是|导致|使得|造成|从而|进而|以致|引起|带来|意味着|决定了|取决于|"
    r"源于|归因于|可见|可知|推出|得出|故而|结果是|"
    r"\b(?:because|since|so that|so|therefore|thus|hence|consequently|as a result|leads? to|led to|"
    r"causes?|caused|results? in|resulting in|drives?|driven by|means that|implies|implying|"
    r"due to|it follows|which means|owing to|in turn)\b",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(
    r"(?:如果|若|假如|假设|一旦|只要|只有|要是|倘若).{1,60}?(?:就|则|那么|便|会|才)|"
    r"\b(?:if|when|unless|once|provided that)\b.{1,120}?(?:,|\bthen\b|\bwill\b|\bwould\b)",
    re.IGNORECASE,
)
_PREMISE = re.compile(r"前提|假设|已知|premise|assumption|given that", re.IGNORECASE)


def _length(ctx: Context, rule: Rule) -> Feedback:
    size = units(ctx.output)
    if rule.min_units is not None:
        low = rule.min_units
        return result(
            ctx,
            rule,
            size >= low,
            f"篇幅 {size} 个单位，要求至少 {low}",
            f"length {counted(size, 'unit')}, at least {low} required",
            t(
                ctx.lang,
                f"还差 {low - size} 个单位：给每个要回答的问题补上依据、例子或数字。",
                f"{counted(low - size, 'unit')} short: add reasons, examples or figures to your answers.",
            ),
        )
    high = rule.max_units or 0
    return result(
        ctx,
        rule,
        size <= high,
        f"篇幅 {size} 个单位，上限 {high}",
        f"length {counted(size, 'unit')}, at most {high}",
        t(
            ctx.lang,
            f"超出 {size - high} 个单位：删去与本步骤无关的内容，合并重复的论点。",
            f"{counted(size - high, 'unit')} over: cut what does not serve this step and merge repeats.",
        ),
    )


def _section_of(ctx: Context, rule: Rule) -> Section | None:
    """The section ``rule`` is about, as found in the output."""
    key = ctx.keys.get(rule.section or "")
    return ctx.sections.get(key) if key else None


def _section(ctx: Context, rule: Rule) -> Feedback:
    title = rule.section or ""
    found = _section_of(ctx, rule)
    if found is None:
        return result(
            ctx,
            rule,
            False,
            f"没有找到小节「{title}」",
            f"section '{title}' not found",
            t(
                ctx.lang,
                f"加一行标题“## {title}”（或“**{title}**”“{title}：”），把这部分内容写在它下面。",
                f"Add a title line '## {title}' (or '**{title}**', '{title}:') with that part "
                "under it.",
            ),
        )
    size = units(found.body)
    need = rule.min_units or 0
    ended = (
        t(
            ctx.lang,
            f"；本节在「{q(found.ended_by)}」处结束",
            f"; the section ends at '{q(found.ended_by)}'",
        )
        if found.ended_by and size < need
        else ""
    )
    return result(
        ctx,
        rule,
        size >= need,
        f"小节「{title}」（标题「{q(found.heading)}」）下有 {size} 个字的内容，至少需要 {need}{ended}"
        if size < need
        else f"小节「{title}」已包含（标题「{q(found.heading)}」）",
        f"section '{title}' (title '{q(found.heading)}') holds {counted(size, 'word')}, at least {need} "
        f"needed{ended}"
        if size < need
        else f"section '{title}' present (title '{q(found.heading)}')",
        t(
            ctx.lang,
            f"在「{title}」标题下写出这一节的实际内容。",
            f"Write the section's actual content under '{title}'.",
        ),
    )


def _min_items(ctx: Context, rule: Rule) -> Feedback:
    title = rule.section or ""
    need = rule.min_items or 0
    found = _section_of(ctx, rule)
    if found is None:
        return result(
            ctx,
            rule,
            False,
            f"没有找到小节「{title}」，无法数出其中的条目（需要 {need} 条）",
            f"section '{title}' not found, so its items cannot be counted ({need} needed)",
            t(
                ctx.lang,
                f"加上「{title}」一节，在其下分条写出至少 {need} 条。",
                f"Add the section '{title}' and give at least {need} separate items under it.",
            ),
        )
    got = items(found.body)
    if rule.with_figures:
        got = tuple(i for i in got if has_figure(i))
    quoted = (
        "；".join(f"「{q(i)}」" for i in got[:4])
        if ctx.lang != "en"
        else "; ".join(f"'{q(i)}'" for i in got[:4])
    )
    ended = (
        t(
            ctx.lang,
            f"。读到「{q(found.ended_by)}」时本节已结束：如果它后面的内容也属于本节，把这一行改成"
            "普通文字或下一级标题",
            f". The section ended at '{q(found.ended_by)}': if what follows belongs to it, make "
            "that line plain text or a lower-level heading",
        )
        if found.ended_by and len(got) < need
        else ""
    )
    return result(
        ctx,
        rule,
        len(got) >= need,
        f"在「{title}」下找到 {len(got)} 条"
        + ("带数字的条目" if rule.with_figures else "")
        + (f"：{quoted}" if got else "")
        + (f"；还需 {need - len(got)} 条{ended}" if len(got) < need else ""),
        f"found {counted(len(got), 'item')}"
        + (" with a figure" if rule.with_figures else "")
        + f" under '{title}'"
        + (f": {quoted}" if got else "")
        + (f"; {need - len(got)} more needed{ended}" if len(got) < need else ""),
        t(
            ctx.lang,
            f"在「{title}」下分条写出至少 {need} 条（列表、编号、表格的行、各自成段，或在一段里用"
            "“首先……其次……最后……”分项都可以），每条一个独立的要点"
            + ("，并写明时间、数量或目标值。" if rule.with_figures else "。"),
            f"Give at least {need} separate items under '{title}' (list items, numbered lines, "
            "table rows, separate paragraphs, or points in one paragraph marked 'first…, second…, "
            "finally…'), one point each"
            + (", each with its time, amount or target value." if rule.with_figures else "."),
        ),
    )


def _mentions(ctx: Context, rule: Rule) -> Feedback:
    found = _section_of(ctx, rule)
    text = (found.body if found else ctx.output).lower()
    where = rule.section or t(ctx.lang, "输出", "the output")
    missing = [g for g in rule.groups or () if not any(has_term(text, w.lower()) for w in g)]
    shown = "；".join("/".join(g[:4]) for g in missing)
    return result(
        ctx,
        rule,
        not missing,
        f"「{where}」中缺少：{shown}" if missing else f"「{where}」中各项都已写明",
        f"'{where}' does not state: {shown}" if missing else f"'{where}' states each item",
        t(
            ctx.lang,
            f"在「{where}」中补上：{shown}。",
            f"In '{where}', add: {shown}.",
        ),
    )


def reasoning_links(body: str) -> list[str]:
    """The reasoning links in ``body``: arrows, if-then and cause-effect sentences, premises."""
    links: list[str] = []
    for sentence in sentences(body):
        arrows = len(_ARROW.findall(sentence))
        if arrows:
            links.extend([sentence] * arrows)
        elif _CONDITIONAL.search(sentence) or _CAUSAL.search(sentence):
            # "因为 A，所以 B" / "because A, so B" links twice: premise, then consequence.
            markers = len(_CAUSAL.findall(sentence)) + len(_CONDITIONAL.findall(sentence))
            links.extend([sentence] * min(2, markers))
    numbered = [i for i in items(body) if i]
    if len(numbered) >= 2 and (_PREMISE.search(body) or links):
        links.extend(numbered[:2])
    return links


def _reasoning(ctx: Context, rule: Rule) -> Feedback:
    found = _section_of(ctx, rule)
    body = found.body if found else ctx.output
    links = reasoning_links(body)
    need = rule.min_links or 0
    where = rule.section or t(ctx.lang, "输出", "the output")
    quoted = quotes(ctx, list(dict.fromkeys(links)))
    return result(
        ctx,
        rule,
        len(links) >= need,
        f"「{where}」中找到 {len(links)} 处推理环节"
        + (f"：{quoted}" if links else "")
        + (f"；至少需要 {need} 处" if len(links) < need else ""),
        f"found {len(links)} reasoning links in '{where}'"
        + (f": {quoted}" if links else "")
        + (f"; at least {need} needed" if len(links) < need else ""),
        t(
            ctx.lang,
            "把推理写成一步步的链条：列出前提再写由此推出什么，或用“A → B → C”，或写“如果……就……”"
            "“因为……所以……”这样的句子。",
            "Write the reasoning as steps: premises and what follows from them, an 'A → B → C' "
            "chain, or if-then and because-so sentences.",
        ),
    )


FORM_CHECKS: Mapping[str, Callable[[Context, Rule], Feedback]] = {
    "length": _length,
    "section": _section,
    "min_items": _min_items,
    "mentions": _mentions,
    "reasoning": _reasoning,
}
