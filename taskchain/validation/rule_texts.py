"""How the rules that read an output's parts are stated, in the session's language: on topic,
the sections, and the checks a capability adds."""

from __future__ import annotations

from taskchain.models import Capability, CheckSpec, Rule, SectionSpec
from taskchain.validation.thresholds import (
    ON_TOPIC_SHARE,
    ON_TOPIC_SHARED,
    ON_TOPIC_SHARED_WITH_TERMS,
    ON_TOPIC_TOP,
    SECTION_MIN_UNITS,
)


def _t(language: str, zh: str, en: str) -> str:
    """Pick the text in ``language``."""
    return en if language == "en" else zh


def _is_lang(word: str, lang: str) -> bool:
    """Whether ``word`` is written in ``lang``'s script."""
    return word.isascii() == (lang == "en")


def on_topic_rule(lang: str, target: str, terms: tuple[str, ...], needed: int, later: bool) -> Rule:
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


def section_rule(lang: str, section: SectionSpec) -> Rule:
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
            f"“**{title}**”、“【{title}】”、“一、{title}”、带页码或编号前缀的“## 第3页｜{title}”或单独一行的“第3页｜{title}”，"
            f"或以“{title}：”（或“**{title}：**”）开头的行" + (f"，也认可：{also}" if also else ""),
            f"a section '{title}' with at least {SECTION_MIN_UNITS} words under it; the title may "
            f"be a heading ('## {title}', or with a numbered prefix: '## Slide 3 — {title}' or a "
            f"bare line 'Slide 3 — {title}'), a "
            f"bold line, a numbered heading or a line starting '{title}:' (or '**{title}:**')"
            + (f"; also accepted: {also}" if also else ""),
        ),
    )


def capability_rule(lang: str, cap: Capability, spec: CheckSpec) -> Rule:
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
                "各自成段的要点，或正文中“一是……二是……”“其一……其二……”“首先……其次……”“此外……最后……”“1）……2）……”"
                "式的分项、先说有几条（“常见误解有两个。”）再逐句写出的分项都算；嵌套列表里只写分组名的"
                "条目（“- **必须**”）下的子项各算一条",
                f"{where} holds at least {spec.count} separate items: list items, numbered lines, "
                "table rows, sub-headings, separate paragraphs, or points enumerated in prose "
                "('first…, second…', '1) … 2) …', '… also … Finally, …', or 'Two risks stand out.' and then "
                "one sentence each) all count; in a nested list, the sub-items under an entry that "
                "only names their group ('- **Must**') count one each",
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
