"""The final report: findings traced to their steps, gaps, quality metrics; JSON and Markdown."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel

from taskchain.capabilities import CapabilityRegistry
from taskchain.models import Session, StepSpec
from taskchain.states import StepState
from taskchain.text import blocks, find_block, first_sentence, items, mentions, normalize, shorten

_ITEM_CHARS = 240
# An item that is nothing but a bracketed blank, e.g. "（待填写第 1 项）": a slot, not a finding.
_PLACEHOLDER = re.compile(r"[（(][^)）]*[)）]|")
_ITEMS_PER_STEP = 3


class ReportItem(BaseModel):
    """A finding or recommendation, with the step it came from."""

    text: str
    step_id: str
    step_name: str


class StepResult(BaseModel):
    """One step as the report shows it."""

    step_id: str
    name: str
    state: str
    attempts: int
    summary: str | None
    output: str | None
    reason: str | None
    executor: str | None
    duration: float | None
    focus_areas_covered: list[str]


GapKind = Literal["step_skipped", "step_failed", "step_not_reached", "focus_area_uncovered"]


class Gap(BaseModel):
    """Something the chain did not cover: a skipped or failed step, or an unaddressed focus area."""

    kind: GapKind
    step_id: str | None = None
    focus_area: str | None = None
    reason: str


class QualityMetrics(BaseModel):
    """Objective measures of how the chain went."""

    total_steps: int
    completed_steps: int
    failed_steps: int
    skipped_steps: int
    pending_steps: int
    completion_rate: float
    first_pass_rate: float
    total_attempts: int
    focus_area_coverage: float
    total_duration: float
    elapsed: float


class Report(BaseModel):
    """The final report (its first fields keep the original plugin's ``final_report`` names)."""

    executive_summary: str
    target_analysis: dict[str, Any]
    key_findings: list[ReportItem]
    detailed_results: dict[str, StepResult]
    recommendations: list[ReportItem]
    quality_metrics: QualityMetrics
    gaps: list[Gap]
    partial: bool
    session_id: str
    status: str
    language: str
    generated_at: float


def build(session: Session, registry: CapabilityRegistry, *, now: float) -> Report:
    """The report of ``session``; partial when the session is not completed."""
    definition = session.definition
    lang = session.language
    findings: list[ReportItem] = []
    recommendations: list[ReportItem] = []
    results: dict[str, StepResult] = {}
    coverage: dict[str, list[str]] = {area: [] for area in definition.config.focus_areas}
    for step in definition.steps:
        record = session.record(step.id)
        covered: list[str] = []
        if record.state is StepState.COMPLETED and record.output:
            key = normalize(record.output)
            covered = [a for a in coverage if mentions(key, a)]
            for area in covered:
                coverage[area].append(step.id)
            found, recs = _extract(step, record.output, registry)
            findings.extend(found)
            recommendations.extend(recs)
        results[step.id] = StepResult(
            step_id=step.id,
            name=step.name,
            state=record.state.value,
            attempts=record.attempts,
            summary=record.summary,
            output=record.output,
            # A completed step may still carry the error of an earlier, failed attempt.
            reason=None if record.state is StepState.COMPLETED else record.reason,
            executor=record.executor,
            duration=record.duration,
            focus_areas_covered=covered,
        )
    if not findings:  # no step asked for a findings section: each step's gist stands in
        findings = [
            ReportItem(text=r.summary, step_id=r.step_id, step_name=r.name)
            for r in results.values()
            if r.state == "completed" and r.summary
        ]
    gaps = _gaps(session, coverage)
    metrics = _metrics(session, coverage)
    return Report(
        executive_summary=_summary(session, metrics, len(findings), len(recommendations)),
        target_analysis={
            "target": definition.target,
            "task_type": definition.task_type,
            "template": definition.template,
            "depth": definition.config.depth,
            "focus_areas": list(definition.config.focus_areas),
            "language": lang,
            "execution_mode": definition.config.execution_mode,
            "understanding": next(
                (r.summary for r in results.values() if r.state == "completed"), None
            ),
        },
        key_findings=findings,
        detailed_results=results,
        recommendations=recommendations,
        quality_metrics=metrics,
        gaps=gaps,
        partial=session.status != "completed",
        session_id=session.session_id,
        status=session.status,
        language=lang,
        generated_at=now,
    )


def _extract(
    step: StepSpec, output: str, registry: CapabilityRegistry
) -> tuple[list[ReportItem], list[ReportItem]]:
    """Findings and recommendations from the sections the step's capabilities mark as such."""
    found = blocks(output)
    out: dict[str, list[ReportItem]] = {"finding": [], "recommendation": []}
    for name in step.capabilities:
        for section in registry.resolve(name).sections:
            if section.role not in out:
                continue
            block = find_block(found, section.names())
            if block is None:
                continue
            texts = [t for t in items(block.body) if not _PLACEHOLDER.fullmatch(t)]
            if not texts and not _PLACEHOLDER.fullmatch(block.body.strip()):
                texts = [first_sentence(block.body, _ITEM_CHARS)]
            out[section.role].extend(
                ReportItem(text=shorten(t, _ITEM_CHARS), step_id=step.id, step_name=step.name)
                for t in texts[:_ITEMS_PER_STEP]
                if t.strip()
            )
    return out["finding"], out["recommendation"]


def _gaps(session: Session, coverage: dict[str, list[str]]) -> list[Gap]:
    """Skipped, failed and unreached steps, and focus areas no accepted output addressed."""
    lang = session.language
    gaps = []
    kinds: dict[StepState, GapKind] = {
        StepState.SKIPPED: "step_skipped",
        StepState.FAILED: "step_failed",
        StepState.PENDING: "step_not_reached",
        StepState.READY: "step_not_reached",
    }
    for step in session.definition.steps:
        record = session.record(step.id)
        kind = kinds.get(record.state)
        if kind is not None:
            reason = record.reason or ("尚未完成" if lang != "en" else "not finished")
            gaps.append(Gap(kind=kind, step_id=step.id, reason=f"{step.name}: {reason}"))
    for area, steps in coverage.items():
        if not steps:
            gaps.append(
                Gap(
                    kind="focus_area_uncovered",
                    focus_area=area,
                    reason=f"没有任何已完成步骤覆盖「{area}」"
                    if lang != "en"
                    else f"no completed step covers '{area}'",
                )
            )
    return gaps


def _metrics(session: Session, coverage: dict[str, list[str]]) -> QualityMetrics:
    """Completion, first-pass rate, attempts, focus coverage and timings."""
    records = list(session.records.values())
    total = len(records)
    completed = [r for r in records if r.state is StepState.COMPLETED]
    attempted = [r for r in records if r.attempts]
    return QualityMetrics(
        total_steps=total,
        completed_steps=len(completed),
        failed_steps=sum(1 for r in records if r.state is StepState.FAILED),
        skipped_steps=sum(1 for r in records if r.state is StepState.SKIPPED),
        pending_steps=sum(1 for r in records if r.state in (StepState.PENDING, StepState.READY)),
        completion_rate=round(len(completed) / total, 4) if total else 0.0,
        first_pass_rate=round(sum(1 for r in completed if r.attempts == 1) / len(attempted), 4)
        if attempted
        else 0.0,
        total_attempts=sum(r.attempts for r in records),
        focus_area_coverage=round(sum(1 for s in coverage.values() if s) / len(coverage), 4)
        if coverage
        else 1.0,
        total_duration=round(sum(r.duration or 0.0 for r in records), 6),
        elapsed=round(max(0.0, session.updated_at - session.created_at), 6),
    )


def _summary(session: Session, m: QualityMetrics, findings: int, recs: int) -> str:
    """A few sentences a reader can stop after."""
    d = session.definition
    executors = {r.executor for r in session.records.values() if r.state is StepState.COMPLETED}
    outline = executors == {"builtin"}
    if session.language == "en":
        text = (
            f"A {d.task_type} chain on '{d.target}': {m.completed_steps} of {m.total_steps} steps "
            f"completed, {m.failed_steps} failed, {m.skipped_steps} skipped; {findings} key "
            f"findings and {recs} recommendations, each traced to its step; focus-area coverage "
            f"{m.focus_area_coverage:.0%}."
        )
        if session.status != "completed":
            text += " The chain is not finished: this report is partial."
        if outline:
            text += (
                " Produced by the builtin executor: every step holds a structured outline to be "
                "filled in, not findings; treat its items as questions, not answers."
            )
        return text
    text = (
        f"围绕「{d.target}」的 {d.task_type} 任务链：共 {m.total_steps} 步，完成 "
        f"{m.completed_steps} 步，失败 {m.failed_steps} 步，跳过 {m.skipped_steps} 步；"
        f"关键发现 {findings} 条、建议 {recs} 条，均注明来源步骤；关注点覆盖率 "
        f"{m.focus_area_coverage:.0%}。"
    )
    if session.status != "completed":
        text += "任务链尚未完成：这是一份部分报告。"
    if outline:
        text += "本报告由内置执行器（builtin）生成：每一步是待填写的结构化提纲，而非结论；其中各项应视为要回答的问题。"
    return text


def to_markdown(report: Report, session: Session) -> str:
    """The report as Markdown, with a Mermaid diagram of the chain."""
    zh = report.language != "en"

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    def item(i: ReportItem) -> str:
        return (
            f"- {i.text} _（来自：{i.step_name}）_" if zh else f"- {i.text} _(from: {i.step_name})_"
        )

    none = [t("（无）", "(none)")]
    m = report.quality_metrics
    lines = [
        t(
            f"# 任务链报告：{session.definition.target}",
            f"# Task chain report: {session.definition.target}",
        )
    ]
    if report.partial:
        lines += [
            "",
            t(
                f"> **部分报告** — 任务链尚未完成（{report.status}）",
                f"> **Partial report** — the chain is not finished ({report.status})",
            ),
        ]
    lines += ["", t("## 执行摘要", "## Executive summary"), "", report.executive_summary]
    lines += ["", t("## 任务链", "## Chain"), "", "```mermaid", *_mermaid(session), "```"]
    lines += ["", t("## 关键发现", "## Key findings"), ""]
    lines += [item(i) for i in report.key_findings] or none
    lines += ["", t("## 建议", "## Recommendations"), ""]
    lines += [item(i) for i in report.recommendations] or none
    lines += ["", t("## 各步骤结果", "## Step results")]
    for r in report.detailed_results.values():
        lines += ["", f"### {r.name} (`{r.step_id}`) — {r.state}", ""]
        meta = f"{t('尝试次数', 'attempts')}: {r.attempts}"
        if r.executor:
            meta += f" · {t('执行者', 'executor')}: {r.executor}"
        if r.reason:
            meta += f" · {t('原因', 'reason')}: {r.reason}"
        lines.append(f"_{meta}_")
        if r.output:
            lines += ["", _demote(r.output)]
    lines += ["", t("## 缺口", "## Gaps"), ""]
    lines += [f"- [{g.kind}] {g.reason}" for g in report.gaps] or none
    lines += [
        "",
        t("## 质量指标", "## Quality metrics"),
        "",
        t("| 指标 | 值 |", "| metric | value |"),
        "|---|---|",
    ]
    rows = [
        (t("完成率", "completion rate"), f"{m.completion_rate:.0%}"),
        (t("一次通过率", "first-pass rate"), f"{m.first_pass_rate:.0%}"),
        (t("总尝试次数", "total attempts"), str(m.total_attempts)),
        (t("关注点覆盖率", "focus-area coverage"), f"{m.focus_area_coverage:.0%}"),
        (
            t("完成/失败/跳过/未完成", "completed/failed/skipped/pending"),
            f"{m.completed_steps}/{m.failed_steps}/{m.skipped_steps}/{m.pending_steps}",
        ),
        (t("步骤耗时合计（秒）", "step time total (s)"), f"{m.total_duration:.3f}"),
        (t("会话历时（秒）", "session elapsed (s)"), f"{m.elapsed:.3f}"),
    ]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def _mermaid(session: Session) -> list[str]:
    """A Mermaid flowchart of the chain, nodes marked by state."""
    marks = {"completed": "✓", "failed": "✗", "skipped": "⤼", "ready": "▶", "pending": "…"}
    ids = {s.id: f"s{i}" for i, s in enumerate(session.definition.steps, 1)}
    out = ["flowchart TD"]
    for step in session.definition.steps:
        state = session.record(step.id).state.value
        label = step.name.replace('"', "'")
        out.append(f'  {ids[step.id]}["{marks[state]} {label}"]:::{state}')
    for step in session.definition.steps:
        out.extend(f"  {ids[dep]} --> {ids[step.id]}" for dep in step.dependencies)
    out += [
        "  classDef completed fill:#d4f7d4,stroke:#2a7a2a",
        "  classDef failed fill:#f7d4d4,stroke:#a02a2a",
        "  classDef skipped fill:#eeeeee,stroke:#888888",
        "  classDef ready fill:#fff4c2,stroke:#a08a00",
        "  classDef pending fill:#ffffff,stroke:#aaaaaa",
    ]
    return out


def _demote(markdown: str) -> str:
    """Push a step output's headings below the report's own (## -> ####)."""
    return "\n".join(
        "###" + line if line.lstrip().startswith("#") else line for line in markdown.splitlines()
    )
