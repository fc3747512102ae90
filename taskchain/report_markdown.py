"""The final report as Markdown, with a Mermaid diagram of the chain (Chinese or English)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskchain import labels
from taskchain.models import Session
from taskchain.report_summary import coverage_pairs

if TYPE_CHECKING:  # the report module imports this one
    from taskchain.report import Report, ReportItem


def to_markdown(report: Report, session: Session) -> str:
    """The report as Markdown, with a Mermaid diagram of the chain.

    States, statuses, executors and gap kinds are said in the report's language (JSON keeps
    their values); a colon is full-width in Chinese.
    """
    lang = report.language
    zh = lang != "en"
    colon = "：" if zh else ": "

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    def item(i: ReportItem) -> str:
        return (
            f"- {i.text} _（来自：{i.step_name}）_" if zh else f"- {i.text} _(from: {i.step_name})_"
        )

    def rate(value: float | None) -> str:
        return t("不适用", "—") if value is None else f"{value:.0%}"

    outline = report.content == "outline"
    none = [t("（无：提纲不含结论）", "(none: an outline holds no conclusions)") if outline
            else t("（无）", "(none)")]  # fmt: skip
    m = report.quality_metrics
    # what coverage is a share of: every step asked about each focus area
    pairs = coverage_pairs(m, len(session.definition.config.focus_areas))
    of_pairs = "" if pairs is None else t(f"（{pairs[1]} 处中的 {pairs[0]} 处）",
                                          f" ({pairs[0]} of {pairs[1]} step–area pairs)")  # fmt: skip
    lines = [
        t(
            f"# 任务链报告：{session.definition.target}",
            f"# Task chain report: {session.definition.target}",
        )
    ]
    if outline:
        lines += [
            "",
            t(
                "> **提纲，不是结论** — 各步骤由内置执行器写成待填写的提纲，只列出要回答的问题",
                "> **An outline, not findings** — the builtin executor wrote each step as an "
                "outline to fill in: it lists the questions to answer",
            ),
        ]
    if report.partial:
        status = labels.status(report.status, lang)
        lines += [
            "",
            t(
                f"> **部分报告** — 任务链尚未完成（{status}）",
                f"> **Partial report** — the chain is not finished ({status})",
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
        lines += ["", f"### {r.name} (`{r.step_id}`) — {labels.state(r.state, lang)}", ""]
        meta = f"{t('尝试次数', 'attempts')}{colon}{r.attempts}"
        if r.executor:
            meta += f" · {t('执行者', 'executor')}{colon}{labels.executor(r.executor, lang)}"
        if r.reason:
            meta += f" · {t('原因', 'reason')}{colon}{r.reason}"
        lines.append(f"_{meta}_")
        if r.output:
            lines += ["", _demote(r.output)]
    lines += ["", t("## 缺口", "## Gaps"), ""]
    lines += [f"- [{labels.gap(g.kind, lang)}] {g.reason}" for g in report.gaps] or [
        t("（无）", "(none)")
    ]
    lines += [
        "",
        t("## 质量指标", "## Quality metrics"),
        "",
        t("| 指标 | 值 |", "| metric | value |"),
        "|---|---|",
    ]
    rows = [
        (t("完成率", "completion rate"), rate(m.completion_rate)),
        (t("一次通过率", "first-pass rate"), rate(m.first_pass_rate)),
        (t("总尝试次数", "total attempts"), str(m.total_attempts)),
        (t("关注点覆盖率", "focus-area coverage"), rate(m.focus_area_coverage) + of_pairs),
        (
            t("完成/失败/跳过/未完成", "completed/failed/skipped/pending"),
            f"{m.completed_steps}/{m.failed_steps}/{m.skipped_steps}/{m.pending_steps}",
        ),
        (t("步骤耗时合计（秒）", "step time total (s)"), f"{m.total_duration:.3f}"),
        (t("会话历时（秒）", "session elapsed (s)"), f"{m.elapsed:.3f}"),
    ]
    lines += [f"| {k} | {v} |" for k, v in rows]
    if outline:
        lines += ["", t("提纲中没有任何步骤被回答，因此完成率、一次通过率和关注点覆盖率不适用。",
                        "No step of an outline was answered: completion, first-pass and "
                        "focus-area rates do not apply.")]  # fmt: skip
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
