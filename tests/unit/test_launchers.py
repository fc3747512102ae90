"""The launchers and the time a call may work a run (taskchain/launchers.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from taskchain.bootstrap import build_launcher
from taskchain.config import ConfigError, Settings
from taskchain.errors import ConflictError, StoreError, stale_version
from taskchain.launchers import (
    DurableLauncher,
    LaunchError,
    RunRef,
    ThreadLauncher,
    batch_name,
    execution_name,
    invocation_budget,
    qualified,
    remaining_budget,
)
from taskchain.responses import Progress, RunView

ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:taskchain-runs:live"


@pytest.mark.parametrize(
    ("remaining_ms", "budget"),
    [
        (900_000, 810.0),  # 10 % kept back
        (30_000, 27.0),
        (10_000, 8.0),  # at least 2 s kept back
        (2_000, 0.0),
        (500, 0.0),
        (-5, 0.0),
    ],
)
def test_a_call_works_until_a_margin_before_its_platform_stops_it(
    remaining_ms: int, budget: float
) -> None:
    assert invocation_budget(remaining_ms) == pytest.approx(budget)


@dataclass
class Context:
    left: Any = 30_000

    def get_remaining_time_in_millis(self) -> Any:
        return self.left


def test_a_context_that_says_nothing_of_its_time_leaves_the_run_budget() -> None:
    assert remaining_budget(Context()) == pytest.approx(27.0)
    assert remaining_budget(None) is None
    assert remaining_budget(object()) is None
    assert remaining_budget(Context(left="soon")) is None


def test_the_durable_functions_event_is_checked() -> None:
    ref = RunRef("acme", "r1", "u-1")
    assert RunRef.from_event(json.loads(json.dumps(ref.to_event()))) == ref
    assert RunRef.from_event({"tenant": "acme", "run_id": "r1"}) == RunRef("acme", "r1", None)
    for bad in (None, "r1", {"tenant": "acme"}, {"tenant": "", "run_id": "r1"},
                {"tenant": "acme", "run_id": "r1", "end_user": 7}):  # fmt: skip
        with pytest.raises(ValueError, match=r"tenant|run_id|end_user"):
            RunRef.from_event(bad)


@pytest.mark.parametrize(
    ("function", "ok"),
    [
        (ALIAS, True),
        ("arn:aws:lambda:us-east-1:123456789012:function:taskchain-runs:7", True),
        ("arn:aws:lambda:us-east-1:123456789012:function:taskchain-runs", False),
        ("123456789012:function:taskchain-runs:live", True),
        ("123456789012:function:taskchain-runs", False),
        ("taskchain-runs:live", True),
        ("taskchain-runs", False),
        ("taskchain-runs:", False),
    ],
)
def test_only_a_qualified_runs_function_is_taken(function: str, ok: bool) -> None:
    assert qualified(function) is ok
    if ok:
        assert DurableLauncher(function).function == function
    else:
        with pytest.raises(ConfigError) as refused:
            DurableLauncher(function)
        assert refused.value.variable == "TASKCHAIN_RUNS_FUNCTION"


def test_execution_names_are_what_lambda_takes() -> None:
    assert execution_name("0123abcd") == "run-0123abcd"
    assert execution_name("a.b c/d") == "run-a-b-c-d"
    assert len(execution_name("x" * 128)) == 64


@dataclass
class FakeLambda:
    answer: dict[str, Any] = field(default_factory=lambda: {"StatusCode": 202})
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return self.answer


def test_a_run_is_launched_as_a_named_async_durable_execution() -> None:
    client = FakeLambda()
    DurableLauncher(ALIAS, client=client).launch("acme", "r1", "u-1")
    [call] = client.calls
    assert call["FunctionName"] == ALIAS
    assert call["InvocationType"] == "Event"
    assert call["DurableExecutionName"] == "run-r1"  # one execution per run, however retried
    assert json.loads(call["Payload"]) == {"tenant": "acme", "run_id": "r1", "end_user": "u-1"}


@pytest.mark.parametrize(
    "failure",
    [
        FakeLambda(error=ClientError({"Error": {"Code": "TooManyRequestsException"}}, "Invoke")),
        FakeLambda(error=EndpointConnectionError(endpoint_url="https://lambda")),
        FakeLambda(answer={"StatusCode": 200}),
    ],
)
def test_a_launch_lambda_refuses_is_a_launch_error_naming_the_run(failure: FakeLambda) -> None:
    with pytest.raises(LaunchError) as refused:
        DurableLauncher(ALIAS, client=failure).launch("acme", "r1", None)
    assert isinstance(refused.value, StoreError)  # 503 with Retry-After
    assert refused.value.details == {"session_id": "r1", "retry_after": 5}
    assert "/v1/runs/r1/continue" in refused.value.message("en")


def test_a_request_built_wrong_is_a_bug_not_an_outage() -> None:
    broken = FakeLambda(error=ParamValidationError(report="bad"))
    with pytest.raises(ParamValidationError):
        DurableLauncher(ALIAS, client=broken).launch("acme", "r1", None)


def test_the_composition_root_picks_the_launcher_for_the_platform() -> None:
    assert isinstance(build_launcher(Settings(runs_function=ALIAS)), DurableLauncher)
    assert isinstance(
        build_launcher(Settings(runs_function=ALIAS), background=True), DurableLauncher
    )
    assert isinstance(build_launcher(Settings(), background=True), ThreadLauncher)
    assert build_launcher(Settings()) is None  # Function Compute: the call works the run


# --- the thread launcher -----------------------------------------------------------------------


def view(status: str, attempts: int) -> RunView:
    return RunView(
        run_id="r1",
        status=status,  # type: ignore[arg-type]
        executor="llm",
        progress=Progress(completed=attempts, failed=0, skipped=0, total=4),
        current_steps=[],
        attempts=attempts,
        model_usage=None,
        elapsed=0.0,
        updated_at=0.0,
    )


class Scripted:
    """A service whose ``continue_run`` answers (or raises) what it is told, in order."""

    step_timeout = 120.0

    def __init__(self, *answers: RunView | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, str | None, float | None]] = []

    def continue_run(
        self, tenant: str, run_id: str, *, end_user: str | None = None, budget: float | None = None
    ) -> RunView:
        self.calls.append((tenant, run_id, end_user, budget))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def worked(*answers: RunView | Exception, **options: Any) -> Scripted:
    service = Scripted(*answers)
    launcher = ThreadLauncher(budget=60.0, **options).bind(service)  # type: ignore[arg-type]
    launcher.launch("acme", "r1", "u-1")
    launcher.join()
    return service


def test_a_launched_run_is_continued_in_the_background_until_it_ends() -> None:
    service = worked(view("running", 1), view("running", 2), view("completed", 4))
    assert service.calls == [("acme", "r1", "u-1", 60.0)] * 3


def test_a_run_that_stops_making_progress_is_left_for_continue_calls() -> None:
    service = worked(view("running", 1), view("running", 1), view("running", 2))
    assert len(service.calls) == 2


def test_a_conflict_is_retried_and_at_most_max_rounds_calls_are_made() -> None:
    conflict: ConflictError = stale_version(1, 2)
    service = worked(conflict, view("completed", 4))
    assert len(service.calls) == 2
    busy = worked(*(view("running", n) for n in range(10)), max_rounds=3)
    assert len(busy.calls) == 3


def test_a_failure_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="taskchain"):
        service = worked(StoreError("存储不可用", "store unavailable"), view("completed", 4))
    assert len(service.calls) == 1
    assert "run r1 stopped in the background" in caplog.text


def test_a_full_queue_leaves_the_run_stored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    launcher = ThreadLauncher(budget=1.0, queue_size=1)  # no service: nothing is worked
    with caplog.at_level(logging.WARNING, logger="taskchain"):
        launcher._queue.put_nowait(RunRef("acme", "r0"))  # the one place taken
        launcher.launch("acme", "r1", None)  # returns, raising nothing
    assert "run r1 not queued" in caplog.text


def test_the_durable_steps_are_named_after_the_chain_steps_they_work() -> None:
    assert batch_name({"ready": [{"step_id": "understand_goal", "attempt": 1}]}) == (
        "understand_goal"
    )
    state = {"ready": [{"step_id": "a", "attempt": 2}, {"step_id": "b", "attempt": 1}]}
    assert batch_name(state) == "a (attempt 2) + b"
    assert batch_name({"ready": []}) == "batch"
