"""The pure engine: start, submit, skip, record_error, the failure policy and its errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from taskchain import engine
from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import ConflictError, NotFoundError, TaskchainError
from taskchain.models import Session
from taskchain.states import StepState
from tests.factories import (
    T0,
    bad_output,
    build_chain,
    custom_step,
    passing_output,
    start_chain,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
P, R, C, F, S = (
    StepState.PENDING,
    StepState.READY,
    StepState.COMPLETED,
    StepState.FAILED,
    StepState.SKIPPED,
)


def new_session(*steps: dict[str, object], **config: Any) -> tuple[Session, CapabilityRegistry]:
    """A started session of a custom chain of ``steps`` (config: mode, failure policy...)."""
    definition, registry = build_chain(steps=steps, **config)
    return start_chain(definition), registry


def states(session: Session) -> dict[str, StepState]:
    """Every step's state, by id."""
    return {step_id: record.state for step_id, record in session.records.items()}


def good(
    session: Session, step_id: str, registry: CapabilityRegistry, **kwargs: Any
) -> engine.SubmitOutcome:
    """Submit an output that passes the step's checks."""
    output = passing_output(session, step_id, registry)
    return engine.submit(
        session, step_id, output, now=session.updated_at + 10, registry=registry, **kwargs
    )


def bad(
    session: Session, step_id: str, registry: CapabilityRegistry, **kwargs: Any
) -> engine.SubmitOutcome:
    """Submit an output that fails the step's checks."""
    return engine.submit(
        session,
        step_id,
        bad_output(session.language),
        now=session.updated_at + 10,
        registry=registry,
        **kwargs,
    )


def raises(code: str, call: Callable[[], object]) -> TaskchainError:
    """The error ``call`` raises, checked to carry ``code``."""
    with pytest.raises(TaskchainError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


# --- start ------------------------------------------------------------------------------------


def test_sequential_start_makes_only_the_first_step_in_chain_order_ready() -> None:
    # GIVEN a chain listed out of order: b depends on a, c is independent
    definition, _ = build_chain(
        steps=[custom_step("b", "a"), custom_step("a"), custom_step("c")],
        execution_mode="sequential",
    )
    # WHEN it starts
    session = start_chain(definition)
    # THEN it is version 1, active, and only a (first in chain order) is ready
    assert [s.id for s in definition.steps] == ["a", "b", "c"]
    assert session.version == 1
    assert session.status == "active"
    assert engine.ready_steps(session) == ["a"]
    assert states(session) == {"a": R, "b": P, "c": P}
    assert session.record("a").ready_at == T0


def test_parallel_start_makes_every_step_without_dependencies_ready() -> None:
    session, _ = new_session(
        custom_step("a"),
        custom_step("b"),
        custom_step("c", "a", "b"),
        custom_step("d"),
        execution_mode="parallel",
    )
    assert session.version == 1
    assert engine.ready_steps(session) == ["a", "b", "d"]
    assert session.record("c").state is P


@pytest.mark.parametrize("task_type", ["analysis", "creative", "education", "research"])
def test_template_chain_starts_with_its_first_step(task_type: str) -> None:
    definition, _ = build_chain(task_type)
    session = start_chain(definition)
    assert engine.ready_steps(session) == [definition.steps[0].id]


# --- accepted and rejected submits ------------------------------------------------------------


def test_accepted_submit_completes_the_step_and_readies_the_next() -> None:
    # GIVEN a two-step sequential chain at version 1
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    output = passing_output(session, "a", registry)
    # WHEN a passing output is submitted for a
    outcome = engine.submit(session, "a", output, now=T0 + 30, registry=registry)
    # THEN a is completed with that output, the version moved on and b is ready
    new = outcome.session
    assert outcome.accepted
    assert all(f.passed or f.severity != "error" for f in outcome.feedback)
    assert new.version == 2
    assert new.status == "active"
    record = new.record("a")
    assert (record.state, record.attempts, record.output) == (C, 1, output)
    assert record.finished_at == T0 + 30
    assert record.duration == 30
    assert record.summary
    assert outcome.newly_ready == ("b",)
    assert engine.ready_steps(new) == ["b"]


def test_parallel_step_waits_for_all_of_its_dependencies() -> None:
    session, registry = new_session(
        custom_step("a"),
        custom_step("b"),
        custom_step("c", "a", "b"),
        execution_mode="parallel",
    )
    after_a = good(session, "a", registry)
    assert after_a.newly_ready == ()
    assert engine.ready_steps(after_a.session) == ["b"]
    after_b = good(after_a.session, "b", registry)
    assert after_b.newly_ready == ("c",)


def test_sequential_chain_works_through_independent_steps_in_chain_order() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b"), custom_step("c"))
    seen = []
    while session.status == "active":
        ready = engine.ready_steps(session)
        assert len(ready) == 1
        seen.append(ready[0])
        session = good(session, ready[0], registry).session
    assert seen == ["a", "b", "c"]
    assert session.status == "completed"
    assert session.version == 4


def test_completing_the_last_step_completes_the_session() -> None:
    session, registry = new_session(custom_step("a"))
    outcome = good(session, "a", registry)
    assert outcome.session.status == "completed"
    assert outcome.newly_ready == ()
    assert engine.ready_steps(outcome.session) == []


def test_rejected_submit_gives_feedback_and_keeps_the_step_ready() -> None:
    # GIVEN a step using 理解分析 (core question and at least 2 success criteria)
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    # WHEN a one-line output is submitted
    outcome = bad(session, "a", registry)
    # THEN it is rejected with the failing rules, each with a hint
    assert not outcome.accepted
    failing = {f.rule: f for f in outcome.feedback if not f.passed}
    assert {
        "min_length",
        "section:core_question",
        "section:success_criteria",
        "success_criteria_listed",
    } <= set(failing)
    assert all(f.severity == "error" and f.hint for f in failing.values())
    # AND the attempt is counted while the step stays ready, without an output
    new = outcome.session
    assert new.version == 2
    record = new.record("a")
    assert (record.state, record.attempts, record.output) == (R, 1, None)
    assert record.feedback == outcome.feedback
    assert outcome.newly_ready == ()
    assert engine.ready_steps(new) == ["a"]


def test_step_is_accepted_after_a_rejected_attempt() -> None:
    session, registry = new_session(custom_step("a"))
    session = bad(session, "a", registry).session
    outcome = good(session, "a", registry)
    assert outcome.accepted
    assert outcome.session.record("a").attempts == 2
    assert outcome.session.status == "completed"


def test_english_session_gets_english_feedback() -> None:
    session, registry = new_session(
        custom_step("a"), custom_step("b", "a"), language="en", target="a coffee subscription plan"
    )
    outcome = bad(session, "a", registry)
    failing = {f.rule: f for f in outcome.feedback if not f.passed}
    assert re.fullmatch(r"length \d+ units, at least 150 required", failing["min_length"].message)
    assert failing["section:core_question"].message == "section 'Core question' not found"
    assert "'## Core question'" in failing["section:core_question"].hint
    for feedback in outcome.feedback:
        assert not CJK.search(feedback.message + feedback.hint), feedback


# --- attempts and the failure policy ----------------------------------------------------------


def test_step_fails_after_its_own_max_attempts() -> None:
    session, registry = new_session(custom_step("a", max_attempts=2), custom_step("b"))
    # WHEN the first attempt is rejected THEN the step is still ready
    session = bad(session, "a", registry).session
    assert session.record("a").state is R
    # WHEN the second (last) attempt is rejected THEN the step fails with the failing rules
    session = bad(session, "a", registry).session
    record = session.record("a")
    assert (record.state, record.attempts) == (F, 2)
    assert record.reason is not None
    assert "min_length" in record.reason
    assert "section:core_question" in record.reason
    assert record.output is None
    assert engine.ready_steps(session) == ["b"]


def test_default_max_attempts_is_three() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b"))
    for attempt in (1, 2):
        session = bad(session, "a", registry).session
        assert (session.record("a").state, session.record("a").attempts) == (R, attempt)
    session = bad(session, "a", registry).session
    assert session.record("a").state is F


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_failed_step_skips_its_dependents_and_the_session_goes_on(mode: str) -> None:
    # GIVEN a -> b -> c, and d independent; failures do not stop the chain
    session, registry = new_session(
        custom_step("a", max_attempts=1),
        custom_step("b", "a"),
        custom_step("c", "b"),
        custom_step("d"),
        execution_mode=mode,
        continue_on_failure=True,
    )
    # WHEN a fails
    outcome = bad(session, "a", registry)
    session = outcome.session
    # THEN b and c (transitively) are skipped with a reason naming a; d goes on
    assert states(session) == {"a": F, "b": S, "c": S, "d": R}
    for step_id in ("b", "c"):
        reason = session.record(step_id).reason
        assert reason is not None
        assert "a" in reason.split()  # names the failed step
        assert "失败" in reason
    assert session.status == "active"
    assert outcome.newly_ready == (("d",) if mode == "sequential" else ())
    # WHEN d completes THEN the session has ended, with the failed and skipped steps as gaps
    session = good(session, "d", registry).session
    assert session.status == "completed_with_gaps"


def test_failed_step_in_english_session_gives_an_english_reason_to_dependents() -> None:
    session, registry = new_session(
        custom_step("a", max_attempts=1), custom_step("b", "a"), language="en"
    )
    session = bad(session, "a", registry).session
    assert session.record("b").reason == "depends on failed step a"
    assert session.status == "failed"  # nothing was completed


def test_failure_stops_the_session_when_not_continuing_on_failure() -> None:
    # GIVEN a chain that stops at the first failure
    session, registry = new_session(
        custom_step("a", max_attempts=1),
        custom_step("b", "a"),
        custom_step("c"),
        continue_on_failure=False,
    )
    # WHEN a fails
    session = bad(session, "a", registry).session
    # THEN the session has failed and nothing else moves
    assert session.status == "failed"
    assert session.record("a").state is F
    assert session.record("b").state is P
    error = raises("SESSION_CLOSED", lambda: good(session, "c", registry))
    assert error.details["status"] == "failed"
    raises("SESSION_CLOSED", lambda: engine.skip(session, "c", "", now=T0))


def test_chain_without_failures_completes_even_when_not_continuing_on_failure() -> None:
    session, registry = new_session(
        custom_step("a"), custom_step("b", "a"), continue_on_failure=False
    )
    session = good(session, "a", registry).session
    session = good(session, "b", registry).session
    assert session.status == "completed"


# --- skip -------------------------------------------------------------------------------------


def test_skip_records_a_gap_and_lets_dependents_proceed() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    # WHEN the ready step a is skipped with a reason
    new = engine.skip(session, "a", "没有可用的数据", now=T0 + 5)
    # THEN a is a gap with that reason and b is ready
    record = new.record("a")
    assert (record.state, record.reason, record.output) == (S, "没有可用的数据", None)
    assert record.finished_at == T0 + 5
    assert new.version == 2
    assert engine.ready_steps(new) == ["b"]
    assert good(new, "b", registry).session.status == "completed_with_gaps"


@pytest.mark.parametrize(("language", "reason"), [("zh", "未说明原因"), ("en", "no reason given")])
def test_skip_without_a_reason_records_a_default_one(language: str, reason: str) -> None:
    session, _ = new_session(custom_step("a"), language=language)
    assert engine.skip(session, "a", "", now=T0).record("a").reason == reason


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_a_pending_step_cannot_be_skipped_and_the_ready_steps_are_named(mode: str) -> None:
    # GIVEN b waits for a, and (in sequential mode) c waits its turn
    session, _ = new_session(
        custom_step("a"), custom_step("b", "a"), custom_step("c"), execution_mode=mode
    )
    pending = ["b"] if mode == "parallel" else ["b", "c"]
    for step_id in pending:
        # WHEN a pending step is skipped THEN it is not ready, and the ready steps are named
        error = raises(
            "STEP_NOT_READY", lambda s=step_id: engine.skip(session, s, "不需要", now=T0)
        )
        assert isinstance(error, ConflictError)
        assert error.details["step_id"] == step_id
        assert error.details["ready_steps"] == engine.ready_steps(session)
        assert "跳过" in error.message("zh")
        assert "skipped" in error.message("en")


# --- session status -----------------------------------------------------------------------------


def test_every_step_completed_is_completed() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    session = good(session, "a", registry).session
    assert good(session, "b", registry).session.status == "completed"


@pytest.mark.parametrize("how", ["skipped", "failed"])
def test_a_chain_that_ended_with_a_skipped_or_failed_step_has_gaps(how: str) -> None:
    session, registry = new_session(custom_step("a", max_attempts=1), custom_step("b"))
    if how == "skipped":
        session = engine.skip(session, "a", "没有数据", now=T0)
    else:
        session = bad(session, "a", registry).session
    assert session.status == "active"
    session = good(session, "b", registry).session
    assert session.status == "completed_with_gaps"
    # a chain that ended with gaps is finished: closed to further changes
    error = raises("SESSION_CLOSED", lambda: good(session, "b", registry))
    assert error.details["status"] == "completed_with_gaps"


@pytest.mark.parametrize("how", ["skipped", "failed", "mixed"])
def test_a_chain_where_no_step_was_completed_has_failed(how: str) -> None:
    session, registry = new_session(custom_step("a", max_attempts=1), custom_step("b"))
    if how in ("skipped", "mixed"):
        session = engine.skip(session, "a", "", now=T0)
    else:
        session = bad(session, "a", registry).session
    if how == "skipped":
        session = engine.skip(session, "b", "", now=T0)
    else:
        session = engine.record_error(session, "b", "timeout", now=T0, executor="model")
        session = engine.record_error(session, "b", "timeout", now=T0, executor="model")
        session = engine.record_error(session, "b", "timeout", now=T0, executor="model")
    assert all(r.finished for r in session.records.values())
    assert session.status == "failed"


@pytest.mark.parametrize(
    ("status", "zh"),
    [("completed", "会话已完成"), ("completed_with_gaps", "会话已结束"), ("failed", "会话已终止")],
)
def test_a_closed_session_says_why_once(status: str, zh: str) -> None:
    session, _ = new_session(custom_step("a"))
    closed = session.model_copy(update={"status": status})
    error = raises("SESSION_CLOSED", lambda: engine.skip(closed, "a", "", now=T0))
    assert error.message("zh").startswith(zh)
    assert "已已" not in error.message("zh")
    assert status.replace("_", " ") in error.message("en")


def test_skipping_a_finished_step_is_already_done() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    session = good(session, "a", registry).session
    error = raises("STEP_ALREADY_DONE", lambda: engine.skip(session, "a", "", now=T0))
    assert isinstance(error, ConflictError)
    assert error.details["state"] == "completed"
    assert error.details["ready_steps"] == ["b"]


@pytest.mark.parametrize(
    ("finish", "zh", "en"),
    [
        ("complete", "步骤 a 已完成，不能再提交；现在可做的步骤：b、c", "step a is already completed; "
         "the steps ready now are b, c"),
        ("skip", "步骤 a 已跳过，不能再提交；现在可做的步骤：b、c", "step a is already skipped; "
         "the steps ready now are b, c"),
    ],
    ids=["completed", "skipped"],
)  # fmt: skip
def test_already_done_says_in_words_which_steps_are_ready_instead(
    finish: str, zh: str, en: str
) -> None:
    # GIVEN a finished step a, with b and c ready after it
    session, registry = new_session(
        custom_step("a"), custom_step("b", "a"), custom_step("c", "a"), execution_mode="parallel"
    )
    if finish == "skip":
        session = engine.skip(session, "a", "", now=T0)
    else:
        session = good(session, "a", registry).session
    # WHEN a is submitted again
    error = raises("STEP_ALREADY_DONE", lambda: good(session, "a", registry))
    # THEN the message says what a is, in the language's own words, and what to work on now
    assert (error.message("zh"), error.message("en")) == (zh, en)


def test_already_done_names_the_one_ready_step_in_the_singular() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    session = good(session, "a", registry).session
    error = raises("STEP_ALREADY_DONE", lambda: engine.skip(session, "a", "", now=T0))
    assert error.message("zh") == "步骤 a 已完成，不能再跳过；现在可做的步骤：b"
    assert error.message("en") == "step a is already completed; the step ready now is b"


def test_submitting_to_a_finished_step_is_already_done() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b"))
    session = engine.skip(session, "a", "", now=T0)
    raises("STEP_ALREADY_DONE", lambda: good(session, "a", registry))


# --- errors -----------------------------------------------------------------------------------


def test_submit_to_a_pending_step_is_not_ready_and_names_the_ready_steps() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b", "a"))
    error = raises("STEP_NOT_READY", lambda: good(session, "b", registry))
    assert isinstance(error, ConflictError)
    assert error.details["ready_steps"] == ["a"]
    assert "a" in error.message("en").split()


def test_in_sequential_mode_an_independent_later_step_is_not_ready_yet() -> None:
    session, registry = new_session(custom_step("a"), custom_step("b"))
    error = raises("STEP_NOT_READY", lambda: good(session, "b", registry))
    assert error.details["ready_steps"] == ["a"]


@pytest.mark.parametrize(
    "call",
    [
        lambda s, r: bad(s, "nope", r),
        lambda s, r: engine.skip(s, "nope", "", now=T0),
        lambda s, r: engine.record_error(s, "nope", "timeout", now=T0, executor="model"),
    ],
    ids=["submit", "skip", "record_error"],
)
def test_unknown_step_is_not_found(
    call: Callable[[Session, CapabilityRegistry], object],
) -> None:
    session, registry = new_session(custom_step("a"))
    error = raises("STEP_NOT_FOUND", lambda: call(session, registry))
    assert isinstance(error, NotFoundError)
    assert error.details["steps"] == ["a"]


@pytest.mark.parametrize("expected_version", [1, 3])
def test_stale_expected_version_is_rejected_with_the_current_version(
    expected_version: int,
) -> None:
    session, registry = new_session(custom_step("a"), custom_step("b"))
    session = engine.skip(session, "a", "", now=T0)  # now at version 2
    for call in (
        lambda: good(session, "b", registry, expected_version=expected_version),
        lambda: engine.skip(session, "b", "", now=T0, expected_version=expected_version),
    ):
        error = raises("STALE_VERSION", call)
        assert error.details["current_version"] == 2
        assert error.details["expected_version"] == expected_version
        assert error.details["ready_steps"] == ["b"]


def test_matching_expected_version_is_accepted() -> None:
    session, registry = new_session(custom_step("a"))
    assert good(session, "a", registry, expected_version=1).session.version == 2


def test_completed_session_is_closed() -> None:
    session, registry = new_session(custom_step("a"))
    session = good(session, "a", registry).session
    for call in (
        lambda: good(session, "a", registry),
        lambda: engine.skip(session, "a", "", now=T0),
        lambda: engine.record_error(session, "a", "timeout", now=T0, executor="model"),
    ):
        error = raises("SESSION_CLOSED", call)
        assert error.details["status"] == "completed"


# --- record_error -----------------------------------------------------------------------------


def test_record_error_counts_an_attempt_and_fails_the_step_at_the_limit() -> None:
    session, _ = new_session(custom_step("a", max_attempts=2), custom_step("b", "a"))
    session = engine.record_error(session, "a", "timed out", now=T0 + 1, executor="model")
    record = session.record("a")
    assert (record.state, record.attempts, record.reason) == (R, 1, "timed out")
    assert session.version == 2
    session = engine.record_error(session, "a", "crashed", now=T0 + 2, executor="model")
    record = session.record("a")
    assert (record.state, record.attempts, record.reason) == (F, 2, "crashed")
    assert record.executor == "model"
    assert session.record("b").state is S
    assert session.status == "failed"  # every step ended, none completed


def test_record_error_on_a_pending_step_is_not_ready() -> None:
    session, _ = new_session(custom_step("a"), custom_step("b", "a"))
    raises(
        "STEP_NOT_READY",
        lambda: engine.record_error(session, "b", "timeout", now=T0, executor="model"),
    )


# --- purity and changed_in --------------------------------------------------------------------

Operation = Callable[[Session, CapabilityRegistry], Session]

OPERATIONS: dict[str, Operation] = {
    "accepted submit": lambda s, r: good(s, "a", r).session,
    "rejected submit": lambda s, r: bad(s, "a", r).session,
    "failing submit": lambda s, r: bad(bad(bad(s, "a", r).session, "a", r).session, "a", r).session,
    "skip ready": lambda s, r: engine.skip(s, "a", "不做", now=T0 + 1),
    "record error": lambda s, r: engine.record_error(s, "a", "timeout", now=T0, executor="x"),
}


def _chain() -> tuple[Session, CapabilityRegistry]:
    """a -> b -> c, d independent, e after d: sequential, failures skip dependents."""
    return new_session(
        custom_step("a"),
        custom_step("b", "a"),
        custom_step("c", "b"),
        custom_step("d"),
        custom_step("e", "d"),
    )


@pytest.mark.parametrize("name", OPERATIONS)
def test_engine_never_mutates_its_input(name: str) -> None:
    session, registry = _chain()
    before = session.model_dump()
    OPERATIONS[name](session, registry)
    assert session.model_dump() == before


@pytest.mark.parametrize("name", OPERATIONS)
def test_changed_in_marks_exactly_the_records_a_transition_touched(name: str) -> None:
    session, registry = new_session(
        custom_step("a"),
        custom_step("b", "a"),
        custom_step("c", "b"),
        custom_step("d"),
        custom_step("e", "d"),
        execution_mode="parallel",
    )
    # Move past version 1 so "untouched" and "touched" versions differ.
    session = good(session, "d", registry).session
    new = OPERATIONS[name](session, registry)
    assert new.version > session.version
    for step_id, old_record in session.records.items():
        record = new.record(step_id)
        if record == old_record:
            assert record.changed_in == old_record.changed_in < new.version, step_id
        else:
            assert record.changed_in == new.version, step_id
    touched = {i for i, r in new.records.items() if r != session.records[i]}
    assert touched  # every operation changes something


def test_failure_cascade_marks_the_skipped_dependents_as_changed() -> None:
    session, registry = _chain()
    session = bad(session, "a", registry).session
    session = bad(session, "a", registry).session
    new = bad(session, "a", registry).session
    assert {i for i, r in new.records.items() if r.changed_in == new.version} == {
        "a",
        "b",
        "c",
        "d",
    }
    assert new.record("e").changed_in == 1
