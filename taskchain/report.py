"""The final report: findings traced to their steps, gaps, quality metrics (JSON; Markdown in
:mod:`taskchain.report_markdown`).

An outline run (every completed step written by the builtin executor) says so: ``content`` is
``"outline"``, the summary's first sentence says it holds no findings, and the metrics that
cannot apply to an outline are ``None``. Placeholders, unanswered questions and the goal
restated (a step's core question) are never counted as findings, recommendations or focus-area
coverage. Focus-area coverage is a share of what was asked: every step, each focus area.
"""

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field

from taskchain.capabilities import CapabilityRegistry
from taskchain.modelbase import Model
from taskchain.models import SESSION_STATUS_DOC, Session, StepRecord, Usage
from taskchain.report_findings import Drawn, draw, quoted, ranks, restates
from taskchain.report_items import is_placeholder, open_questions, substance
from taskchain.report_markdown import to_markdown
from taskchain.report_summary import summary
from taskchain.states import StepState
from taskchain.substance import names_area
from taskchain.text import shorten

__all__ = [
    "Gap",
    "QualityMetrics",
    "Report",
    "ReportItem",
    "StepResult",
    "build",
    "is_placeholder",
    "to_markdown",
]

_ITEM_CHARS = 240
_OUTLINE_EXECUTORS = frozenset({"builtin"})  # executors that write outlines to fill in

Content = Literal["outline", "answers"]


class ReportItem(Model):
    """A finding or recommendation, with the step it came from."""

    text: str = Field(description="内容（the finding or recommendation）")
    step_id: str = Field(description="来源步骤的 ID（the step it came from）")
    step_name: str = Field(description="来源步骤的名称（that step's name）")


class StepResult(Model):
    """One step as the report shows it."""

    step_id: str = Field(description="步骤 ID（step id）")
    name: str = Field(description="步骤名称（step name）")
    state: str = Field(description="步骤状态（step state）")
    attempts: int = Field(description="提交次数（attempts）")
    summary: str | None = Field(description="一句话摘要（one-line summary）")
    output: str | None = Field(description="被接受的产出（the accepted output）")
    reason: str | None = Field(description="跳过或失败的原因（why it was skipped or failed）")
    executor: str | None = Field(description="产出由谁写出（who wrote the output）")
    duration: float | None = Field(description="用时，秒（seconds taken）")
    model: str | None = Field(default=None, description="作答的模型（the model that wrote it）")
    usage: Usage | None = Field(
        default=None,
        description="模型调用次数和 token 用量，含失败的尝试（model calls and tokens）",
    )
    focus_areas_covered: list[str] = Field(
        description="产出具体讨论了的关注点（focus areas it covered）"
    )


GapKind = Literal["step_skipped", "step_failed", "step_not_reached", "focus_area_uncovered"]


class Gap(Model):
    """Something the chain did not cover: a skipped or failed step, or an unaddressed focus area."""

    kind: GapKind = Field(description="缺口类型（gap kind）")
    step_id: str | None = Field(default=None, description="相关步骤的 ID（the step concerned）")
    focus_area: str | None = Field(default=None, description="未覆盖的关注点（the focus area）")
    reason: str = Field(description="缺口说明（what is missing and why）")


class ModelCost(Model):
    """What the model calls of a run cost, in all (tokens as the provider counts them)."""

    models: list[str] = Field(description="用到的模型（models used）")
    calls: int = Field(description="模型调用次数，含重试（model calls, retries included）")
    prompt_tokens: int = Field(description="输入 token 总数（prompt tokens）")
    completion_tokens: int = Field(description="输出 token 总数（completion tokens）")
    latency: float = Field(description="等待模型的总时间，秒（seconds waiting on the model）")


def model_cost(records: Iterable[StepRecord]) -> ModelCost | None:
    """The total of the records' model usage; ``None`` when no model was called."""
    used = [r for r in records if r.usage is not None or r.model is not None]
    if not used:
        return None
    total = sum((r.usage for r in used if r.usage is not None), Usage())
    return ModelCost(
        models=sorted({r.model for r in used if r.model}),
        calls=total.calls,
        prompt_tokens=total.prompt_tokens,
        completion_tokens=total.completion_tokens,
        latency=round(total.latency, 6),
    )


class QualityMetrics(Model):
    """Objective measures of how the chain went; ``None`` where a measure does not apply.

    For an outline no step was answered, so ``completion_rate``, ``first_pass_rate`` and
    ``focus_area_coverage`` are ``None``; ``first_pass_rate`` is also ``None`` before any
    attempt, and ``focus_area_coverage`` when the chain has no focus areas.

    ``focus_area_coverage`` is the share of what was asked that was discussed: every step is
    asked about every focus area, so it counts the (step, focus area) pairs whose step's accepted
    output discusses the area, over the steps times the focus areas — one step of four that
    discusses both areas covers a quarter, not all.
    """

    total_steps: int = Field(description="步骤总数（steps in the chain）")
    completed_steps: int = Field(description="已完成的步骤数（steps completed）")
    failed_steps: int = Field(description="失败的步骤数（steps failed）")
    skipped_steps: int = Field(description="跳过的步骤数（steps skipped）")
    pending_steps: int = Field(description="未结束的步骤数（steps not finished）")
    completion_rate: float | None = Field(description="完成率，0 到 1（completion rate）")
    first_pass_rate: float | None = Field(
        description="一次通过的比例，0 到 1（share of steps accepted on the first attempt）"
    )
    total_attempts: int = Field(description="提交总次数（attempts in all）")
    focus_area_coverage: float | None = Field(
        description="关注点覆盖率，0 到 1（share of focus areas covered）"
    )
    total_duration: float = Field(description="各步骤用时之和，秒（seconds the steps took）")
    elapsed: float = Field(description="从开始到现在的时间，秒（seconds since the start）")
    model_usage: ModelCost | None = Field(
        default=None,
        description="模型调用的总次数与 token 用量；没有调用模型时为 null（model calls and tokens）",
    )


class Report(Model):
    """The final report (its first fields keep the original plugin's ``final_report`` names)."""

    executive_summary: str = Field(description="执行摘要（executive summary）")
    target_analysis: dict[str, Any] = Field(description="目标分析（target analysis）")
    key_findings: list[ReportItem] = Field(description="关键发现及来源步骤（key findings）")
    detailed_results: dict[str, StepResult] = Field(
        description="各步骤结果（step results, by step id）"
    )
    recommendations: list[ReportItem] = Field(description="建议及来源步骤（recommendations）")
    quality_metrics: QualityMetrics = Field(description="质量指标（quality metrics）")
    gaps: list[Gap] = Field(description="缺口：跳过、失败或未覆盖的部分（gaps）")
    partial: bool = Field(description="true 表示还有步骤未结束，这是部分报告（partial report）")
    content: Content = Field(
        description="outline 表示各步骤只是待填写的提纲、没有结论；answers 表示真实作答（outline or answers）"
    )
    session_id: str = Field(description="会话 ID（session id）")
    status: str = Field(description=SESSION_STATUS_DOC)
    language: str = Field(description="报告语言（language）")
    generated_at: float = Field(description="生成时间，Unix 秒（generated at）")


# --- content ---------------------------------------------------------------------------------


def content_of(session: Session) -> Content:
    """``outline`` when every completed step (or, before any, every attempt) is an outline."""
    records = session.records.values()
    done = {r.executor for r in records if r.state is StepState.COMPLETED}
    executors = done or {r.executor for r in records if r.executor is not None}
    return "outline" if executors and executors <= _OUTLINE_EXECUTORS else "answers"


# --- building -------------------------------------------------------------------------------


def build(session: Session, registry: CapabilityRegistry, *, now: float) -> Report:
    """The report of ``session``; partial while some step is unfinished."""
    definition = session.definition
    lang = session.language
    content = content_of(session)
    outline = content == "outline"
    drawn: list[Drawn] = []
    results: dict[str, StepResult] = {}
    coverage: dict[str, list[str]] = {area: [] for area in definition.config.focus_areas}
    questions = 0
    for step in definition.steps:
        record = session.record(step.id)
        covered: list[str] = []
        if record.state is StepState.COMPLETED and record.output:
            if outline:  # an outline asks questions: it holds no findings and covers nothing
                questions += open_questions(record.output)
            else:
                text = substance(record.output)
                covered = [a for a in coverage if names_area(text, a)]
                for area in covered:
                    coverage[area].append(step.id)
                drawn.extend(draw(step, record.output, registry, lang))
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
            model=record.model,
            usage=record.usage,
            focus_areas_covered=covered,
        )
    rank = ranks(definition, registry)
    drawn.sort(key=lambda d: rank[d.step.id])  # stable: each step's items keep their order
    findings = [_item(d, d.piece.text) for d in drawn if d.role == "finding"]
    recommendations = [_item(d, d.piece.text) for d in drawn if d.role == "recommendation"]
    quotes = [_item(d, d.piece.plain) for d in quoted([d for d in drawn if d.role == "finding"])]
    if not findings and not outline:  # no step has a findings section: each gist stands in,
        # unless it asks or only restates the goal (the core question the step opens with)
        findings = quotes = [
            ReportItem(text=r.summary, step_id=r.step_id, step_name=r.name)
            for step in definition.steps
            for r in [results[step.id]]
            if r.state == "completed"
            and r.summary
            and not is_placeholder(r.summary)
            and not restates(step, r.output or "", r.summary, registry)
        ]
    metrics = _metrics(session, coverage, outline)
    return Report(
        executive_summary=summary(
            session, metrics, findings, recommendations, questions, outline, quotes=quotes
        ),
        target_analysis={
            "target": definition.target,
            "task_type": definition.task_type,
            "template": definition.template,
            "depth": definition.config.depth,
            "focus_areas": list(definition.config.focus_areas),
            "language": lang,
            "execution_mode": definition.config.execution_mode,
            "understanding": None
            if outline
            else next(
                (
                    r.summary
                    for r in results.values()
                    if r.state == "completed" and r.summary and not is_placeholder(r.summary)
                ),
                None,
            ),
        },
        key_findings=findings,
        detailed_results=results,
        recommendations=recommendations,
        quality_metrics=metrics,
        gaps=_gaps(session, {} if outline else coverage),
        partial=any(not r.finished for r in session.records.values()),
        content=content,
        session_id=session.session_id,
        status=session.status,
        language=lang,
        generated_at=now,
    )


def _item(drawn: Drawn, text: str) -> ReportItem:
    """A finding or recommendation as the report lists it (cut at 240 characters)."""
    return ReportItem(
        text=shorten(text, _ITEM_CHARS), step_id=drawn.step.id, step_name=drawn.step.name
    )


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
            said = f"{step.name}: {reason}" if lang == "en" else f"{step.name}：{reason}"
            gaps.append(Gap(kind=kind, step_id=step.id, reason=said))
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


def _metrics(session: Session, coverage: dict[str, list[str]], outline: bool) -> QualityMetrics:
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
        completion_rate=None if outline or not total else round(len(completed) / total, 4),
        first_pass_rate=None
        if outline or not attempted
        else round(sum(1 for r in completed if r.attempts == 1) / len(attempted), 4),
        total_attempts=sum(r.attempts for r in records),
        focus_area_coverage=None
        if outline or not coverage or not total
        else round(sum(map(len, coverage.values())) / (total * len(coverage)), 4),
        total_duration=round(sum(r.duration or 0.0 for r in records), 6),
        elapsed=round(max(0.0, session.updated_at - session.created_at), 6),
        model_usage=model_cost(records),
    )
