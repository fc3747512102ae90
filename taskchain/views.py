"""Builds what callers receive from sessions: briefings, submit verdicts, the one-shot response."""

from __future__ import annotations

from datetime import UTC, datetime

from taskchain import labels
from taskchain.capabilities import CapabilityRegistry
from taskchain.engine import SubmitOutcome, ready_steps
from taskchain.guidance import guide
from taskchain.models import Session
from taskchain.report import Report, model_cost
from taskchain.responses import (
    ExecutionResult,
    ExecutionSummary,
    FinishedStep,
    Progress,
    RunGaps,
    RunResult,
    RunView,
    SessionView,
    StepLine,
    StepWork,
    SubmitView,
)
from taskchain.states import StepState


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 UTC (``None`` stays ``None``)."""
    return None if ts is None else _iso(ts)


def _iso(ts: float) -> str:
    """A timestamp as ISO 8601 UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def progress(session: Session) -> Progress:
    """Step counts by state."""
    return Progress(
        completed=session.count(StepState.COMPLETED),
        failed=session.count(StepState.FAILED),
        skipped=session.count(StepState.SKIPPED),
        total=len(session.records),
    )


def session_view(session: Session, registry: CapabilityRegistry) -> SessionView:
    """The resume briefing: goal, finished steps in one line each, the ready steps' guidance."""
    d = session.definition
    finished = [
        FinishedStep(
            step_id=s.id,
            name=s.name,
            state=session.record(s.id).state.value,
            summary=session.record(s.id).summary or session.record(s.id).reason,
            attempts=session.record(s.id).attempts,
        )
        for s in d.steps
        if session.record(s.id).finished
    ]
    ready = [guide(session, step_id, registry) for step_id in ready_steps(session)]
    return SessionView(
        session_id=session.session_id,
        version=session.version,
        status=session.status,
        task_type=d.task_type,
        target=d.target,
        language=d.config.language,
        depth=d.config.depth,
        focus_areas=list(d.config.focus_areas),
        execution_mode=d.config.execution_mode,
        progress=progress(session),
        steps=[
            StepLine(
                step_id=s.id,
                name=s.name,
                state=session.record(s.id).state.value,
                dependencies=list(s.dependencies),
            )
            for s in d.steps
        ],
        finished_steps=finished,
        ready_steps=ready,
        briefing=briefing(session, finished, [r.step_id for r in ready]),
        created_at=_iso(session.created_at),
        updated_at=_iso(session.updated_at),
        expires_at=iso(session.expires_at),
    )


def briefing(session: Session, finished: list[FinishedStep], ready: list[str]) -> str:
    """A short text that lets a model that lost its context carry on (status and step states in
    the session's words; the view's fields keep their values)."""
    d = session.definition
    p = progress(session)
    lang = d.config.language
    zh = lang != "en"
    status = labels.status(session.status, lang)
    lines = [
        f"目标：{d.target}" if zh else f"Goal: {d.target}",
        (f"进度：{p.completed}/{p.total} 步已完成，状态：{status}，版本 {session.version}"
         if zh else f"Progress: {p.completed}/{p.total} steps completed, status: {status}, version {session.version}"),
    ]  # fmt: skip
    for f in finished:
        state = labels.state(f.state, lang)
        lines.append(
            f"- [{state}] {f.name}：{f.summary or ''}"
            if zh
            else f"- [{state}] {f.name}: {f.summary or ''}"
        )
    if ready:
        lines.append(("下一步：" if zh else "Next: ") + ", ".join(ready))
    elif session.status in _ENDED:
        zh_text, en_text = _ENDED[session.status]
        lines.append(zh_text if zh else en_text)
    elif session.status == "failed" and all(r.finished for r in session.records.values()):
        lines.append(
            "没有任何步骤完成：每一步都失败或被跳过；报告列出了原因。"
            if zh
            else "No step was completed: every step failed or was skipped; the report says why."
        )
    elif session.status == "failed":
        lines.append(
            "有步骤失败，任务链已按设置停止；报告列出了缺口。"
            if zh
            else "A step failed and the chain stopped; the report lists the gaps."
        )
    return "\n".join(lines)


# What the briefing says once every step has finished, by session status.
_ENDED = {
    "completed": (
        "全部步骤已完成，可以获取报告。",
        "All steps are completed; the report is ready.",
    ),
    "completed_with_gaps": (
        "全部步骤已结束，但有步骤被跳过或失败；报告列出了这些缺口。",
        "All steps are finished, but some were skipped or failed; the report lists the gaps.",
    ),
}


def submit_view(outcome: SubmitOutcome, step_id: str, registry: CapabilityRegistry) -> SubmitView:
    """The answer to a submit: verdict, feedback, new version and status, ready steps."""
    session = outcome.session
    record = session.record(step_id)
    step = session.definition.step(step_id)
    assert step is not None
    return SubmitView(
        session_id=session.session_id,
        step_id=step_id,
        language=session.language,
        accepted=outcome.accepted,
        step_state=record.state.value,
        attempts=record.attempts,
        attempts_left=max(0, step.max_attempts - record.attempts) if not record.finished else 0,
        feedback=list(outcome.feedback),
        version=session.version,
        status=session.status,
        progress=progress(session),
        newly_ready=list(outcome.newly_ready),
        ready_steps=[guide(session, s, registry) for s in ready_steps(session)],
    )


def oneshot_response(session: Session, report: Report) -> RunResult:
    """The original plugin's response shape for a chain run in one call."""
    d = session.definition
    results = []
    for step in d.steps:
        r = session.record(step.id)
        failed_checks = [f.message for f in r.feedback if not f.passed and f.severity == "error"]
        results.append(
            ExecutionResult(
                task_id=step.id,
                name=step.name,
                status=r.state.value,
                output=r.output,
                error_message=None
                if r.state is StepState.COMPLETED
                else (r.reason or "; ".join(failed_checks) or None),
                execution_time=round(r.duration or 0.0, 6),
                timestamp=iso(r.finished_at),
                attempts=r.attempts,
                executor=r.executor,
                model=r.model,
                usage=r.usage,
            )
        )
    p = progress(session)
    # The call succeeded when the chain ran to its end, gaps and all; not when it stopped on a
    # failure, completed no step, or ran out of time (then the report says how far it got).
    succeeded = session.status in ("completed", "completed_with_gaps")
    result = RunResult(
        success=succeeded,
        content=report.content,
        session_id=session.session_id,
        run_id=session.session_id,
        task_type=d.task_type,
        target=d.target,
        execution_results=results,
        final_report=report,
        execution_summary=ExecutionSummary(
            total_tasks=p.total,
            completed_tasks=p.completed,
            failed_tasks=p.failed,
            skipped_tasks=p.skipped,
            total_execution_time=round(sum(r.duration or 0.0 for r in session.records.values()), 6),
            model_usage=report.quality_metrics.model_usage,
        ),
    )
    if succeeded:
        return result
    zh = d.config.language != "en"
    if session.status == "failed" and report.partial:
        why = (
            "有步骤失败，且 continue_on_failure 为 false，任务链已停止",
            "a step failed and continue_on_failure is false; the chain stopped",
        )
    elif session.status == "failed":
        why = (
            "没有任何步骤完成：每一步都失败或被跳过，原因见各步骤的 error_message",
            "no step was completed: every step failed or was skipped (see each error_message)",
        )
    else:
        why = (
            "任务链未能在本次调用的时限内跑完，已完成的步骤都已保存，可以续跑（见 next）",
            "the chain did not finish within this call's time budget; the steps done are saved "
            "and the run can be continued (see next)",
        )
    return result.model_copy(
        update={
            "error_code": "EXECUTION_FAILED",
            "category": "EXECUTION_ERROR",
            "error": why[0] if zh else why[1],
            "details": RunGaps(
                failed_steps=_in_state(session, StepState.FAILED),
                skipped_steps=_in_state(session, StepState.SKIPPED),
                unfinished_steps=[s.id for s in d.steps if not session.record(s.id).finished],
            ),
            "next": continue_hint(session) if session.status == "active" else None,
        }
    )


def _in_state(session: Session, state: StepState) -> list[str]:
    """The ids of the steps in ``state``, in chain order."""
    return [s.id for s in session.definition.steps if session.record(s.id).state is state]


def continue_hint(session: Session, *, background: bool = False) -> str:
    """How to continue an unfinished run, in the session's language; with ``background`` (an
    engine works it), how to follow it instead."""
    rid = session.session_id
    if background:
        return (
            f"It is being worked in the background: GET /v1/runs/{rid} (Coze: getRun with run_id) "
            "shows its progress until status is no longer running"
            if session.language == "en"
            else f"正在后台运行：用 GET /v1/runs/{rid}（扣子：getRun，传 run_id）查看进度，直到 status "
            "不再是 running"
        )
    if session.language == "en":
        return (
            f"POST /v1/runs/{rid}/continue (Coze: continueRun with run_id) works on it for "
            f"another call; GET /v1/runs/{rid} shows its progress; CLI: taskchain run --resume {rid}"
        )
    return (
        f"调用 POST /v1/runs/{rid}/continue（扣子：continueRun，传 run_id）再跑一段；"
        f"GET /v1/runs/{rid} 查看进度；命令行：taskchain run --resume {rid}"
    )


def run_view(session: Session, registry: CapabilityRegistry, report: Report | None) -> RunView:
    """A run's progress, with its result once it has ended (``report`` given then); ``next``
    says to follow a run an engine works in the background, and to continue any other."""
    d = session.definition
    working = [
        StepWork(
            step_id=s.id,
            name=s.name,
            attempts=session.record(s.id).attempts,
            max_attempts=s.max_attempts,
        )
        for s in d.steps
        if session.record(s.id).state is StepState.READY
    ]
    ended = session.status != "active"
    return RunView(
        run_id=session.session_id,
        status="running" if not ended else session.status,
        executor=d.config.executor,
        progress=progress(session),
        current_steps=[] if ended else working,
        attempts=sum(r.attempts for r in session.records.values()),
        model_usage=model_cost(session.records.values()),
        elapsed=round(max(0.0, session.updated_at - session.created_at), 6),
        updated_at=session.updated_at,
        next=None if ended else continue_hint(session, background=d.config.background),
        result=oneshot_response(session, report) if ended and report is not None else None,
    )
