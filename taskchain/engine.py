"""Pure session transitions: start, ready steps, submit, skip. The caller persists the result."""

from __future__ import annotations

from dataclasses import dataclass

from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import ConflictError, NotFoundError, stale_version, step_already_done
from taskchain.graph import descendants, eligible
from taskchain.limits import SUMMARY_CHARS
from taskchain.models import (
    ChainDefinition,
    Feedback,
    Fingerprint,
    Session,
    SessionStatus,
    StepRecord,
    Usage,
)
from taskchain.states import FINISHED, StepState, check_transition
from taskchain.text import first_sentence
from taskchain.validation import Verdict, check
from taskchain.validation.earlier import fingerprint


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What a submit did: the new session, the verdict, and the steps it made ready."""

    session: Session
    accepted: bool
    feedback: tuple[Feedback, ...]
    newly_ready: tuple[str, ...]


def start(
    definition: ChainDefinition,
    *,
    session_id: str,
    tenant: str,
    now: float,
    end_user: str | None = None,
    ttl_seconds: float | None = None,
) -> Session:
    """A new session at version 1 with its first steps ready."""
    records = {step.id: StepRecord(step_id=step.id) for step in definition.steps}
    records, _ = _advance(definition, records, version=1, now=now)
    return Session(
        session_id=session_id,
        tenant=tenant,
        end_user=end_user,
        version=1,
        status="active",
        definition=definition,
        records=records,
        created_at=now,
        updated_at=now,
        expires_at=now + ttl_seconds if ttl_seconds else None,
    )


def ready_steps(session: Session) -> list[str]:
    """The ids of the steps that may be worked on now, in chain order."""
    return [s.id for s in session.definition.steps if session.record(s.id).state is StepState.READY]


def submit(
    session: Session,
    step_id: str,
    output: str,
    *,
    now: float,
    registry: CapabilityRegistry,
    expected_version: int | None = None,
    executor: str = "guided",
    duration: float | None = None,
    outline: bool = False,
    model: str | None = None,
    usage: Usage | None = None,
) -> SubmitOutcome:
    """Check ``output`` for ``step_id``; accept it or count a failed attempt.

    Raises
    ------
    NotFoundError
        ``STEP_NOT_FOUND``.
    ConflictError
        ``SESSION_CLOSED``, ``STALE_VERSION``, ``STEP_ALREADY_DONE`` or ``STEP_NOT_READY``
        (with the ready steps in ``details``).
    """
    record = _workable(session, step_id, expected_version)
    step = session.definition.step(step_id)
    assert step is not None
    # What the checks read of the completed steps: the fingerprint each kept when accepted
    # (its output only for a record stored before fingerprints existed).
    earlier: dict[str, str | Fingerprint] = {
        r.step_id: r.fingerprint or r.output
        for r in session.records.values()
        if r.state is StepState.COMPLETED and r.output is not None
    }
    verdict = check(
        session.definition, step, output, registry=registry, earlier=earlier, outline=outline
    )
    version = session.version + 1
    attempts = record.attempts + 1
    records = dict(session.records)
    if verdict.accepted:
        records[step_id] = record.model_copy(
            update={
                "state": check_transition(step_id, record.state, StepState.COMPLETED),
                "attempts": attempts,
                "output": output,
                "reason": None,  # an earlier attempt's error no longer describes the step
                "summary": first_sentence(output, SUMMARY_CHARS),
                "executor": executor,
                "feedback": verdict.feedback,
                "finished_at": now,
                "duration": duration if duration is not None else _since(record, now),
                "changed_in": version,
                "fingerprint": fingerprint(output, session.definition),
            }
        )
    elif attempts >= step.max_attempts:
        records[step_id] = record.model_copy(
            update={
                "state": check_transition(step_id, record.state, StepState.FAILED),
                "attempts": attempts,
                "reason": _failed_rules(verdict, session.language),
                "executor": executor,
                "feedback": verdict.feedback,
                "finished_at": now,
                "changed_in": version,
            }
        )
    else:
        records[step_id] = record.model_copy(
            update={"attempts": attempts, "feedback": verdict.feedback, "changed_in": version}
        )
    records[step_id] = _charged(records[step_id], model, usage)
    new = _settle(
        session,
        records,
        version,
        now,
        failed=records[step_id].state is StepState.FAILED,
        step_id=step_id,
    )
    return SubmitOutcome(
        session=new,
        accepted=verdict.accepted,
        feedback=verdict.feedback,
        newly_ready=_newly_ready(session, new),
    )


def record_error(
    session: Session,
    step_id: str,
    message: str,
    *,
    now: float,
    executor: str,
    model: str | None = None,
    usage: Usage | None = None,
) -> Session:
    """Count an attempt whose executor produced no output (timeout, crash); may fail the step."""
    record = _workable(session, step_id, None)
    step = session.definition.step(step_id)
    assert step is not None
    version = session.version + 1
    attempts = record.attempts + 1
    failed = attempts >= step.max_attempts
    records = dict(session.records)
    records[step_id] = record.model_copy(
        update={
            "state": check_transition(
                step_id, record.state, StepState.FAILED if failed else StepState.READY
            ),
            "attempts": attempts,
            "reason": message,
            "executor": executor,
            "finished_at": now if failed else None,
            "changed_in": version,
        }
    )
    records[step_id] = _charged(records[step_id], model, usage)
    return _settle(session, records, version, now, failed=failed, step_id=step_id)


def skip(
    session: Session,
    step_id: str,
    reason: str,
    *,
    now: float,
    expected_version: int | None = None,
) -> Session:
    """Skip a ready step; it is reported as a gap, and its dependents may go on.

    Raises
    ------
    NotFoundError
        ``STEP_NOT_FOUND``.
    ConflictError
        ``SESSION_CLOSED``, ``STALE_VERSION``, ``STEP_ALREADY_DONE`` or ``STEP_NOT_READY`` (a
        pending step cannot be skipped ahead of time; the ready steps are in ``details``).
    """
    record = _workable(session, step_id, expected_version, skipping=True)
    version = session.version + 1
    records = dict(session.records)
    records[step_id] = record.model_copy(
        update={
            "state": check_transition(step_id, record.state, StepState.SKIPPED),
            "reason": reason or ("未说明原因" if session.language != "en" else "no reason given"),
            "finished_at": now,
            "changed_in": version,
        }
    )
    return _settle(session, records, version, now, failed=False, step_id=step_id)


# --- internals ---------------------------------------------------------------------------


# How a closed session is named in a Chinese message ("会话已完成，…").
_CLOSED_ZH = {
    "completed": "完成",
    "completed_with_gaps": "结束（有步骤被跳过或失败）",
    "failed": "终止",
}


def _known(session: Session, step_id: str, expected_version: int | None) -> StepRecord:
    """The step's record, after the session-level checks (closed, unknown step, stale)."""
    if session.status != "active":
        raise ConflictError(
            f"会话已{_CLOSED_ZH.get(session.status, '关闭')}，不能再修改",
            f"the session is closed ({session.status.replace('_', ' ')}) and can no longer change",
            code="SESSION_CLOSED",
            details={"session_id": session.session_id, "status": session.status},
        )
    if step_id not in session.records:
        raise NotFoundError(
            f"没有步骤 {step_id}",
            f"no step {step_id}",
            code="STEP_NOT_FOUND",
            details={"step_id": step_id, "steps": [s.id for s in session.definition.steps]},
        )
    if expected_version is not None and expected_version != session.version:
        raise stale_version(
            expected_version,
            session.version,
            status=session.status,
            ready_steps=ready_steps(session),
        )
    return session.record(step_id)


def _workable(
    session: Session, step_id: str, expected_version: int | None, *, skipping: bool = False
) -> StepRecord:
    """The record of a ready step: one that can take a submission (or be skipped) now."""
    record = _known(session, step_id, expected_version)
    if record.finished:
        raise step_already_done(
            step_id, record.state.value, ready_steps(session), skipping=skipping
        )
    if record.state is not StepState.READY:
        ready = ready_steps(session)
        verb_zh, verb_en = ("跳过", " to be skipped") if skipping else ("提交", "")
        raise ConflictError(
            f"步骤 {step_id} 还不能{verb_zh}：请先完成 {', '.join(ready) or '前置步骤'}",
            f"step {step_id} is not ready{verb_en}: finish "
            f"{', '.join(ready) or 'its dependencies'} first",
            code="STEP_NOT_READY",
            details={"step_id": step_id, "ready_steps": ready},
        )
    return record


def _settle(
    session: Session,
    records: dict[str, StepRecord],
    version: int,
    now: float,
    *,
    failed: bool,
    step_id: str,
) -> Session:
    """Apply the failure policy, make the next steps ready and work out the session status."""
    definition = session.definition
    status: SessionStatus = session.status
    if failed:
        if definition.config.continue_on_failure:
            reason = (
                f"依赖的步骤 {step_id} 失败"
                if session.language != "en"
                else f"depends on failed step {step_id}"
            )
            for child in descendants(definition.steps, step_id):
                child_record = records[child]
                if not child_record.finished:
                    records[child] = child_record.model_copy(
                        update={
                            "state": check_transition(child, child_record.state, StepState.SKIPPED),
                            "reason": reason,
                            "finished_at": now,
                            "changed_in": version,
                        }
                    )
        else:
            status = "failed"
    if status == "active":
        records, _ = _advance(definition, records, version=version, now=now)
        if all(r.state in FINISHED for r in records.values()):
            status = _ended(records)
    return session.model_copy(
        update={"records": records, "version": version, "status": status, "updated_at": now}
    )


def _advance(
    definition: ChainDefinition, records: dict[str, StepRecord], *, version: int, now: float
) -> tuple[dict[str, StepRecord], list[str]]:
    """Move eligible steps to READY (one at a time in sequential mode)."""
    ids = eligible(definition.steps, records)
    if definition.config.execution_mode == "sequential":
        ids = ids[:1]
    made = []
    for step_id in ids:
        record = records[step_id]
        if record.state is StepState.PENDING:
            records[step_id] = record.model_copy(
                update={
                    "state": check_transition(step_id, record.state, StepState.READY),
                    "ready_at": now,
                    "changed_in": version,
                }
            )
            made.append(step_id)
    return records, made


def _ended(records: dict[str, StepRecord]) -> SessionStatus:
    """The status of a chain whose steps have all finished: what it says about them.

    ``completed`` when every step was completed, ``failed`` when none was, and
    ``completed_with_gaps`` when some were skipped or failed.
    """
    completed = sum(1 for r in records.values() if r.state is StepState.COMPLETED)
    if completed == len(records):
        return "completed"
    return "completed_with_gaps" if completed else "failed"


def _newly_ready(old: Session, new: Session) -> tuple[str, ...]:
    """Steps ready in ``new`` that were not ready in ``old``."""
    before = set(ready_steps(old))
    return tuple(s for s in ready_steps(new) if s not in before)


def _charged(record: StepRecord, model: str | None, usage: Usage | None) -> StepRecord:
    """``record`` with a model attempt's cost added (a model executor's attempts add up)."""
    if model is None and usage is None:
        return record
    total = usage if record.usage is None or usage is None else record.usage + usage
    return record.model_copy(
        update={"model": model or record.model, "usage": total or record.usage}
    )


def _since(record: StepRecord, now: float) -> float | None:
    """Seconds since the step became ready."""
    return None if record.ready_at is None else max(0.0, now - record.ready_at)


def _failed_rules(verdict: Verdict, language: str) -> str:
    """A one-line reason naming the checks that still failed on the last attempt; a focus-area
    check with its area ("focus_area（成本）"), as every area's check has the same id."""
    paired = len(verdict.rules) == len(verdict.feedback)  # one verdict per rule, in order
    areas = [r.area for r in verdict.rules] if paired else [None] * len(verdict.feedback)
    en = language == "en"
    named = [
        f.rule if not area else f"{f.rule} ({area})" if en else f"{f.rule}（{area}）"
        for f, area in zip(verdict.feedback, areas, strict=True)
        if not f.passed and f.severity == "error"
    ]
    prefix = (
        "多次尝试后仍未通过检查：" if language != "en" else "still failing after the last attempt: "
    )
    return prefix + ", ".join(named)
