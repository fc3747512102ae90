"""The runs function (``handlers/aws_durable.py``) as Lambda runs it, on the durable execution
SDK's own local runner (``aws-durable-execution-sdk-python-testing``): checkpoints, replays,
waits and step retries as the service does them, time skipped. The run's model is the fake
OpenAI server answering with the quality corpus's good answers; sessions live in the memory
store, so the model's request count tells what was worked twice."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python.lambda_service import OperationStatus, OperationType
from aws_durable_execution_sdk_python_testing import (
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
)

from taskchain.bootstrap import bootstrap
from taskchain.errors import StoreError
from taskchain.launchers import RunRef
from taskchain.requests import ChainRequest, parse
from taskchain.service import Service
from tests.support.corpus_model import RUN, STEPS, corpus_answers, model_env, step_asked
from tests.support.fake_openai import FakeOpenAI

TENANT = "acme"


class Handed:
    """The launcher of the API function, as far as the runs function sees: the runs handed on."""

    name = "recorded"

    def __init__(self) -> None:
        self.runs: list[RunRef] = []

    def launch(self, tenant: str, run_id: str, end_user: str | None) -> None:
        self.runs.append(RunRef(tenant, run_id, end_user))


@pytest.fixture
def durable(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The runs function's module, imported as Lambda would (its service replaced per test)."""
    monkeypatch.setenv("TASKCHAIN_STORE", "memory")  # its cold start builds a service
    return importlib.import_module("handlers.aws_durable")


@pytest.fixture
def service(
    fake_openai: FakeOpenAI, durable: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Service:
    """The service the runs function works with: a memory store, the corpus model."""
    fake_openai.responder = corpus_answers
    svc = bootstrap(model_env(fake_openai), launcher=Handed())
    monkeypatch.setattr(durable, "service", svc)
    return svc


@pytest.fixture
def runner() -> Iterator[Callable[[Callable[..., Any]], DurableFunctionTestRunner]]:
    """Makes a local durable runner for a handler; closes every one made."""
    made: list[DurableFunctionTestRunner] = []

    def make(handler: Callable[..., Any]) -> DurableFunctionTestRunner:
        made.append(DurableFunctionTestRunner(handler=handler))
        return made[-1]

    yield make
    for each in made:
        each.close()


def start(service: Service) -> RunRef:
    """A run stored by the API (as POST /v1/runs does before launching it)."""
    view = service.start_run(parse(ChainRequest, RUN), tenant=TENANT, end_user="u-1")
    assert view.status == "running"
    assert view.progress.completed == 0
    assert isinstance(service.launcher, Handed)
    assert service.launcher.runs == [RunRef(TENANT, view.run_id, "u-1")]
    return service.launcher.runs[0]


def execute(
    make: Callable[[Callable[..., Any]], DurableFunctionTestRunner],
    handler: Callable[..., Any],
    ref: RunRef,
) -> DurableFunctionTestResult:
    return make(handler).run(input=json.dumps(ref.to_event()), execution_timeout=120)


def steps_of(result: DurableFunctionTestResult) -> list[tuple[str | None, Any]]:
    """The execution's checkpointed steps: name and checkpointed result, in order."""
    return [
        (op.name, json.loads(op.result) if op.result else None)  # type: ignore[attr-defined]
        for op in result.operations
        if op.operation_type is OperationType.STEP
    ]


def test_a_run_completes_with_each_chain_step_a_checkpointed_durable_step(
    durable: ModuleType, service: Service, fake_openai: FakeOpenAI, runner: Any
) -> None:
    # GIVEN a run the API stored for a tenant's end user
    ref = start(service)
    # WHEN the runs function executes it to its end on the local durable runner
    result = execute(runner, durable.handler, ref)
    # THEN the execution succeeded and answers the run's final summary
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    final = json.loads(result.result or "null")
    assert final["status"] == "completed"
    assert final["progress"] == {"completed": 4, "failed": 0, "skipped": 0, "total": 4}
    # AND a status step, then one checkpointed step per chain step, each named after it
    steps = steps_of(result)
    assert [name for name, _ in steps] == ["status", *STEPS]
    assert all(op.status is OperationStatus.SUCCEEDED for op in result.operations)
    done = [summary["progress"]["completed"] for _, summary in steps]
    assert done == [0, 1, 2, 3, 4]
    # AND each checkpoint is a small summary, never the outputs
    assert all(len(json.dumps(summary)) < 1000 for _, summary in steps)
    # AND the model wrote each step once; the stored run is complete, with its report
    assert [step_asked(r) for r in fake_openai.requests] == list(STEPS)
    view = service.run_status(TENANT, ref.run_id, end_user="u-1")
    assert view.status == "completed"
    assert view.result is not None
    assert view.result.success is True
    assert view.model_usage is not None
    assert view.model_usage.calls == 4


@dataclass
class ShortInvocation:
    """A Lambda context with too little time left for another batch after each one."""

    inner: Any
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_run_outliving_its_invocations_resumes_by_replay_without_redoing_steps(
    durable: ModuleType, service: Service, fake_openai: FakeOpenAI, runner: Any
) -> None:
    # GIVEN invocations that each leave time for one batch only (100 s left: the budget, 90 s,
    # is under the 120 s an attempt may take, so the function waits for a fresh invocation)
    invocations: list[int] = []

    def handler(event: Any, context: Any) -> Any:
        invocations.append(len(fake_openai.requests))
        return durable.handler(event, ShortInvocation(context, 100_000))

    ref = start(service)
    # WHEN the run executes
    result = execute(runner, handler, ref)
    # THEN it took one invocation per batch (and the first, which looked at the run), each
    # a replay of the ones before it
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert invocations == [0, 0, 1, 2, 3]
    # AND replays answered the finished steps from their checkpoints: each chain step was
    # asked of the model once, in order
    assert [step_asked(r) for r in fake_openai.requests] == list(STEPS)
    names = [name for name, _ in steps_of(result)]
    assert names == ["status", *STEPS]
    waits = [op for op in result.operations if op.operation_type is OperationType.WAIT]
    assert len(waits) == 4
    assert service.run_status(TENANT, ref.run_id, end_user="u-1").status == "completed"


def test_a_step_interrupted_after_its_save_continues_where_the_session_is(
    durable: ModuleType,
    service: Service,
    fake_openai: FakeOpenAI,
    runner: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a durable step that dies after its batch was saved, before its checkpoint (the
    # store failing as the invocation ends): the second chain step is done, the step is not
    work_batch = durable.work_batch
    calls: list[int] = []

    def dies_once_after_saving(*args: Any, **kwargs: Any) -> dict[str, Any]:
        summary: dict[str, Any] = work_batch(*args, **kwargs)
        calls.append(summary["progress"]["completed"])
        if len(calls) == 2:
            raise StoreError("存储不可用", "store unavailable")
        return summary

    monkeypatch.setattr(durable, "work_batch", dies_once_after_saving)
    ref = start(service)
    # WHEN the run executes (the SDK retries the failed step)
    result = execute(runner, durable.handler, ref)
    # THEN the retried step loaded the session as saved and went on from there: no chain step
    # was written twice, and the run completed
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert [step_asked(r) for r in fake_openai.requests] == list(STEPS)
    assert calls == [1, 2, 3, 4]
    view = service.run_status(TENANT, ref.run_id, end_user="u-1")
    assert view.status == "completed"
    assert view.attempts == 4  # one attempt per step: nothing redone
    # AND the retried step's checkpoint records where the session really was
    summaries = [summary for _, summary in steps_of(result)]
    assert [s["progress"]["completed"] for s in summaries] == [0, 1, 3, 4]


def test_a_run_that_is_gone_ends_the_execution_quietly(
    durable: ModuleType, service: Service, runner: Any
) -> None:
    # GIVEN a run id no store holds (deleted, or expired, before its execution began)
    ref = RunRef(TENANT, "no-such-run", None)
    # WHEN the runs function is invoked for it
    result = execute(runner, durable.handler, ref)
    # THEN the execution fails on its status step without retrying, naming the missing run
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None
    assert "no-such-run" in str(result.error.message)
