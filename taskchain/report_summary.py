"""The report's executive summary: what the report is, how the chain ended, its main conclusions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from taskchain.models import Session
from taskchain.text import counted, lazy, shorten, unmark

if TYPE_CHECKING:  # the report module imports this one
    from taskchain.report import QualityMetrics, ReportItem

_MAIN_CONCLUSIONS = 3  # how many findings the summary states in words
_CONCLUSION_CHARS = 120
# A conclusion's own label ("结论一：", "Conclusion 2 (pricing):"): the summary's "主要结论："
# already says it; the label's qualifier, if any, is kept ("pricing: …").
_CONCLUSION_LABEL = lazy(
    r"^\s*(?:结论|conclusions?)\s*(?:[一二三四五六七八九十]|\d{1,2}|#\d{1,2})?\s*"
    r"(?:[（(](?P<qualifier>[^（）()]{1,16})[）)])?\s*[:：]\s*",
    re.IGNORECASE,
)
_KIND_ZH = {"analysis": "分析", "creative": "创作", "education": "教学", "research": "研究",
            "custom": "自定义"}  # fmt: skip


def summary(
    session: Session,
    m: QualityMetrics,
    findings: list[ReportItem],
    recs: list[ReportItem],
    questions: int,
    outline: bool,
    *,
    quotes: list[ReportItem] | None = None,
) -> str:
    """A few sentences a reader can stop after: what the report is, then its main conclusions.

    The main conclusions are the first of ``quotes`` (by default ``findings``): the findings as
    plain text, lead-ins left out. Counts are worded in the number they take in English.
    """
    d = session.definition
    zh = session.language != "en"
    kind = _KIND_ZH[d.task_type] if zh else d.task_type
    if outline:
        text = (
            f"这是一份提纲，不是分析结论：内置执行器为「{d.target}」的{kind}任务链的 "
            f"{m.completed_steps} 个步骤写出了待填写的提纲，列出 {questions} 个待回答的问题，"
            "没有得出任何结论。"
            if zh
            else f"This is an outline, not findings: the builtin executor wrote fill-in outlines "
            f"for {counted(m.completed_steps, 'step')} of the {kind} chain on '{d.target}', "
            f"listing {counted(questions, 'question')} to answer, and drew no conclusions."
        )
        if m.completed_steps < m.total_steps:
            text += _progress_sentence(session, m, zh, kind, outline=True)
        them = "this question" if questions == 1 else "these questions"
        return text + (
            "要得到结论，请逐条回答这些问题，或改用引导式会话逐步作答。"
            if zh
            else f" To get findings, answer {them}, or work through the chain step by step in a "
            "guided session."
        )
    text = _progress_sentence(session, m, zh, kind, outline=False)
    main = [
        f"{shorten(_unlabelled(unmark(f.text), zh), _CONCLUSION_CHARS).rstrip('。.；;')}"
        + (f"（来自「{f.step_name}」）" if zh else f" (from '{f.step_name}')")
        for f in (findings if quotes is None else quotes)[:_MAIN_CONCLUSIONS]
    ]
    open_ = session.status == "active"  # conclusions may still come; once ended, none will
    if zh:
        none = "尚无可以报告的结论。" if open_ else "没有可以报告的结论。"
        text += f"主要结论：{'；'.join(main)}。" if main else none
        text += f"关键发现 {len(findings)} 条、建议 {len(recs)} 条，均注明来源步骤"
        return text + _coverage(session, m, zh) + "。"
    none = " No conclusions to report yet." if open_ else " There are no conclusions to report."
    text += f" Main conclusions: {'; '.join(main)}." if main else none
    text += (
        f" {counted(len(findings), 'key finding')} and {counted(len(recs), 'recommendation')}, "
        "each traced to its step"
    )
    return text + _coverage(session, m, zh) + "."


def _unlabelled(text: str, zh: bool) -> str:
    """``text`` without a label saying it is a conclusion; a qualifier in the label stays."""
    match = _CONCLUSION_LABEL().match(text)
    if match is None or match.end() == len(text):
        return text
    qualifier = match["qualifier"]
    rest = text[match.end() :]
    return f"{qualifier}{'：' if zh else ': '}{rest}" if qualifier else rest


def coverage_pairs(m: QualityMetrics, areas: int) -> tuple[int, int] | None:
    """What focus-area coverage is a share of: the (step, focus area) pairs discussed, and all
    that were asked (every step, each of ``areas``); ``None`` when coverage does not apply."""
    if m.focus_area_coverage is None or not areas:
        return None
    asked = m.total_steps * areas
    return round(m.focus_area_coverage * asked), asked


def _coverage(session: Session, m: QualityMetrics, zh: bool) -> str:
    """The focus-area coverage and what it is a share of; ``""`` when it does not apply."""
    areas = len(session.definition.config.focus_areas)
    pairs = coverage_pairs(m, areas)
    if pairs is None:
        return ""
    done, asked = pairs
    cov = done / asked
    if zh:
        return (
            f"；关注点覆盖率 {cov:.0%}（{m.total_steps} 步各应讨论 {areas} 个关注点，"
            f"共 {asked} 处，讨论到 {done} 处）"
        )
    steps = "the one step" if m.total_steps == 1 else f"each of the {m.total_steps} steps"
    return (
        f"; focus-area coverage {cov:.0%} ({steps} was to discuss "
        f"{counted(areas, 'focus area')}: {done} of {'those ' if asked > 1 else ''}{asked} "
        f"{'was' if done == 1 else 'were'} discussed)"
    )


def _progress_sentence(
    session: Session, m: QualityMetrics, zh: bool, kind: str, *, outline: bool
) -> str:
    """One sentence on how far the chain got and how it ended."""
    target, n, c, f, s = (session.definition.target, m.total_steps, m.completed_steps,
                          m.failed_steps, m.skipped_steps)  # fmt: skip
    finished = m.pending_steps == 0
    if outline:  # the subject was named by the sentence before
        if session.status == "failed" and not finished:
            return "任务链在步骤失败后按设置停止：这是一份部分报告。" if zh else (
                " The chain stopped at a failed step: this report is partial.")  # fmt: skip
        if not finished:
            return "任务链尚未完成：这是一份部分报告。" if zh else (
                " The chain is not finished: this report is partial.")  # fmt: skip
        return (f"另有 {f} 步失败、{s} 步跳过。" if zh else f" {counted(f, 'step')} failed "
                f"and {s} {'was' if s == 1 else 'were'} skipped.")  # fmt: skip
    if session.status == "completed":
        return (f"围绕「{target}」的{kind}任务链已完成全部 {n} 步。" if zh
                else f"The {kind} chain on '{target}' completed "
                f"{f'all {n} steps' if n != 1 else 'its one step'}.")  # fmt: skip
    if session.status == "completed_with_gaps":
        return (f"围绕「{target}」的{kind}任务链已结束，但有缺口：{n} 步中完成 {c} 步，失败 {f} 步，"
                f"跳过 {s} 步（见“缺口”）。" if zh
                else f"The {kind} chain on '{target}' ended with gaps: {c} of {counted(n, 'step')} completed, "
                f"{f} failed, {s} skipped (see Gaps).")  # fmt: skip
    if session.status == "failed" and finished:
        return (f"围绕「{target}」的{kind}任务链已结束，但没有任何步骤完成：失败 {f} 步，跳过 {s} 步。"
                if zh else f"The {kind} chain on '{target}' ended without completing any step: "
                f"{f} failed, {s} skipped.")  # fmt: skip
    if session.status == "failed":
        return (f"围绕「{target}」的{kind}任务链在步骤失败后按设置停止：{n} 步中完成 {c} 步，"
                "这是一份部分报告。" if zh
                else f"The {kind} chain on '{target}' stopped at a failed step: {c} of "
                f"{counted(n, 'step')} completed; this report is partial.")  # fmt: skip
    return (f"围绕「{target}」的{kind}任务链尚未完成：{n} 步中已完成 {c} 步，这是一份部分报告。" if zh
            else f"The {kind} chain on '{target}' is not finished: {c} of {counted(n, 'step')} "
            "completed; this report is partial.")  # fmt: skip
