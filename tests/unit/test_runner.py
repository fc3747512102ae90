"""The executor seam of one-shot runs: retries with feedback, errors, timeouts, parallelism, budget."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from taskchain.executors import StepTask
from taskchain.limits import DEFAULT_MAX_ATTEMPTS, MAX_OUTPUT_CHARS
from taskchain.service import Service
from taskchain.store.memory import MemoryStore
from tests.factories import FakeClock, good_output

TARGET = "社区咖啡店是否应该推出会员订阅制"
BAD_OUTPUT = "可以做。"
SECRET = "secret detail from the executor"


class ScriptedExecutor:
    """An executor whose answer to each attempt a test decides; it records every call."""

    name = "scripted"
    writes_outlines = False

    def __init__(self, answer: Callable[[StepTask], str], *, concurrent: bool = True) -> None:
        self.concurrent = concurrent
        self.answer = answer
        self.calls: list[StepTask] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def execute(self, task: StepTask) -> str:
        with self._lock:
            self.calls.append(task)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self.answer(task)
        finally:
            with self._lock:
                self.in_flight -= 1

    def calls_for(self, step_id: str) -> list[StepTask]:
        return [c for c in self.calls if c.guidance.step_id == step_id]


def run(executor: ScriptedExecutor, request: dict[str, Any], **service: Any) -> dict[str, Any]:
    """``Service.run_safely`` over a memory store with ``executor``."""
    clock = service.pop("clock", time.time)
    svc = Service(MemoryStore(clock=clock), clock=clock, executor=executor, **service)
    response = svc.run_safely(request, tenant="t")
    json.dumps(response, ensure_ascii=False)
    return response


def results(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["task_id"]: r for r in response["execution_results"]}


def good(task: StepTask) -> str:
    return good_output(task.guidance, variant=f"-{task.attempt}")


ANALYSIS = {"task_type": "analysis", "target": TARGET, "config": {"focus_areas": ["客单价"]}}


def chain(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"task_type": "custom", "target": TARGET, "custom_chain": list(steps), **extra}


# --- retries with feedback -----------------------------------------------------------------


def test_refused_output_is_retried_with_the_failed_checks() -> None:
    executor = ScriptedExecutor(lambda task: BAD_OUTPUT if task.attempt == 1 else good(task))

    response = run(executor, ANALYSIS)

    assert response["success"] is True, response.get("error")
    for step_id, result in results(response).items():
        assert result["status"] == "completed"
        assert result["attempts"] == 2
        assert result["executor"] == "scripted"
        first, second = executor.calls_for(step_id)
        assert (first.attempt, second.attempt) == (1, 2)
        assert first.previous_feedback == ()
        # the retry carries exactly the checks that failed, so the executor can fix them
        assert second.previous_feedback
        assert all(not f.passed for f in second.previous_feedback)
        rules = {f.rule for f in second.previous_feedback}
        assert {"min_length", "focus_area"} <= rules
        assert second.guidance.attempts == 1
    metrics = response["final_report"]["quality_metrics"]
    assert metrics["first_pass_rate"] == 0.0
    assert metrics["total_attempts"] == 2 * len(response["execution_results"])


def test_attempts_run_out_and_the_step_fails_with_the_checks_named() -> None:
    executor = ScriptedExecutor(lambda task: BAD_OUTPUT)

    response = run(
        executor, chain({"id": "a", "name": "界定问题"}, {"id": "b", "name": "独立步骤"})
    )

    a = results(response)["a"]
    assert a["status"] == "failed"
    assert a["attempts"] == DEFAULT_MAX_ATTEMPTS
    assert len(executor.calls_for("a")) == DEFAULT_MAX_ATTEMPTS
    assert "min_length" in a["error_message"]


def test_guidance_handed_to_the_executor_describes_the_step() -> None:
    executor = ScriptedExecutor(good)

    run(executor, ANALYSIS, step_timeout=7.0)

    for call in executor.calls:
        assert TARGET in call.guidance.instructions
        assert call.guidance.required_sections
        assert call.session.definition.target == TARGET
        assert 0 < call.timeout <= 7.0


# --- executor failures ---------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_executor_exception_is_a_failed_attempt_without_its_text(language: str) -> None:
    def explode(task: StepTask) -> str:
        raise RuntimeError(SECRET)

    executor = ScriptedExecutor(explode)

    response = run(
        executor,
        chain(
            {"id": "a", "name": "A", "max_attempts": 2},
            {"id": "b", "name": "B", "dependencies": ["a"]},
            continue_on_failure=False,
            config={"language": language},
        ),
    )

    assert response["success"] is False
    assert response["error_code"] == "EXECUTION_FAILED"
    a = results(response)["a"]
    assert a["status"] == "failed"
    assert a["attempts"] == 2
    assert "RuntimeError" in a["error_message"]
    assert SECRET not in json.dumps(response, ensure_ascii=False)
    assert executor.calls_for("b") == []


def test_executor_exception_then_success_completes_on_the_retry() -> None:
    def flaky(task: StepTask) -> str:
        if task.attempt == 1:
            raise ConnectionError(SECRET)
        return good(task)

    response = run(ScriptedExecutor(flaky), ANALYSIS)

    assert response["success"] is True
    assert {r["attempts"] for r in response["execution_results"]} == {2}
    assert SECRET not in json.dumps(response, ensure_ascii=False)


@pytest.mark.parametrize(
    ("answer", "message"),
    [("   \x00  ", "no output"), ("x" * (MAX_OUTPUT_CHARS + 1), "limit")],
    ids=["empty", "too long"],
)
def test_unusable_output_is_a_failed_attempt(answer: str, message: str) -> None:
    response = run(
        ScriptedExecutor(lambda task: answer),
        chain({"id": "a", "name": "A", "max_attempts": 1}, config={"language": "en"}),
    )

    a = results(response)["a"]
    assert a["status"] == "failed"
    assert a["attempts"] == 1
    assert message in a["error_message"]


# --- timeouts -------------------------------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so executor threads abandoned by a timeout finish promptly."""
    event = threading.Event()
    yield event
    event.set()


def test_attempt_past_the_step_timeout_is_recorded_as_timed_out(release: threading.Event) -> None:
    def hang(task: StepTask) -> str:
        release.wait(5)
        return good(task)

    response = run(
        ScriptedExecutor(hang),
        chain({"id": "a", "name": "A", "max_attempts": 1}, config={"language": "en"}),
        step_timeout=0.05,
    )

    a = results(response)["a"]
    assert a["status"] == "failed"
    assert a["attempts"] == 1
    assert a["output"] is None
    assert "timed out" in a["error_message"]


def test_timed_out_attempt_is_retried(release: threading.Event) -> None:
    def slow_first(task: StepTask) -> str:
        if task.attempt == 1:
            release.wait(5)
        return good(task)

    response = run(
        ScriptedExecutor(slow_first),
        chain({"id": "a", "name": "界定问题", "required_capabilities": ["理解分析"]}),
        # short enough to abandon the hanging attempt, long enough for the quick retry
        step_timeout=0.5,
    )

    a = results(response)["a"]
    assert a["status"] == "completed"
    assert a["attempts"] == 2


# --- parallelism ------------------------------------------------------------------------------

FORK = [
    {"id": "left", "name": "市场调研", "required_capabilities": ["信息检索"]},
    {"id": "right", "name": "成本测算", "required_capabilities": ["数据整理"]},
    {
        "id": "join",
        "name": "汇总",
        "required_capabilities": ["结果整合"],
        "dependencies": ["left", "right"],
    },
]


def test_parallel_mode_hands_independent_steps_to_the_executor_at_once() -> None:
    # GIVEN a barrier the two independent steps must both reach: it only opens if both calls
    # are in flight together (otherwise it breaks after 5 s and the attempt fails)
    barrier = threading.Barrier(2, timeout=5)

    def meet(task: StepTask) -> str:
        if task.guidance.step_id in ("left", "right"):
            barrier.wait()
        return good(task)

    executor = ScriptedExecutor(meet)

    response = run(executor, chain(*FORK, config={"execution_mode": "parallel"}))

    assert response["success"] is True, response.get("error")
    for result in response["execution_results"]:
        assert (result["status"], result["attempts"]) == ("completed", 1)
    assert executor.most_in_flight == 2
    assert executor.calls[-1].guidance.step_id == "join"


def test_parallel_mode_starts_a_step_as_soon_as_its_dependencies_are_done() -> None:
    # GIVEN two lanes: a1 is held until the whole of lane b (b1 -> b2 -> b3) has been answered.
    # Worked in waves, b2 could only start once a1 ended, and a1 waits for b3: a deadlock that
    # ends in a1's timeout. Started as soon as they are ready, lane b runs through meanwhile.
    lane_b_done = threading.Event()

    def answer(task: StepTask) -> str:
        step_id = task.guidance.step_id
        if step_id == "a1":
            assert lane_b_done.wait(timeout=5), "lane b waited on lane a"
        if step_id == "b3":
            lane_b_done.set()
        return good(task)

    executor = ScriptedExecutor(answer)
    steps = [
        {"id": "a1", "name": "甲线第一步", "required_capabilities": ["理解分析"]},
        {"id": "b1", "name": "乙线第一步", "required_capabilities": ["理解分析"]},
        {
            "id": "b2",
            "name": "乙线第二步",
            "required_capabilities": ["逻辑推理"],
            "dependencies": ["b1"],
        },
        {
            "id": "b3",
            "name": "乙线第三步",
            "required_capabilities": ["风险评估"],
            "dependencies": ["b2"],
        },
    ]

    response = run(executor, chain(*steps, config={"execution_mode": "parallel"}))

    assert response["success"] is True, response.get("error")
    assert {r["task_id"]: r["attempts"] for r in response["execution_results"]} == {
        "a1": 1,
        "b1": 1,
        "b2": 1,
        "b3": 1,
    }


def test_sequential_mode_hands_one_step_at_a_time() -> None:
    executor = ScriptedExecutor(good)

    response = run(executor, chain(*FORK, config={"execution_mode": "sequential"}))

    assert response["success"] is True
    assert executor.most_in_flight == 1
    assert [c.guidance.step_id for c in executor.calls] == ["left", "right", "join"]


def test_parallel_mode_with_an_inline_executor_still_completes() -> None:
    executor = ScriptedExecutor(good, concurrent=False)

    response = run(executor, chain(*FORK, config={"execution_mode": "parallel"}))

    assert response["success"] is True
    assert executor.most_in_flight == 1


# --- the run budget ---------------------------------------------------------------------------


def test_run_budget_leaves_the_remaining_steps_unfinished() -> None:
    clock = FakeClock()
    budget = 25.0

    def slow(task: StepTask) -> str:
        clock.advance(budget + 1)  # this attempt uses up the whole budget
        return good(task)

    executor = ScriptedExecutor(slow, concurrent=False)

    response = run(executor, ANALYSIS, clock=clock, run_budget=budget)

    assert response["success"] is False
    assert response["error_code"] == "EXECUTION_FAILED"
    assert "时限" in response["error"]
    assert len(executor.calls) == 1
    done = executor.calls[0].guidance.step_id
    statuses = {k: r["status"] for k, r in results(response).items()}
    assert statuses.pop(done) == "completed"
    assert set(statuses.values()) <= {"pending", "ready"}
    report = response["final_report"]
    assert report["partial"] is True
    assert {g["step_id"] for g in report["gaps"] if g["kind"] == "step_not_reached"} == set(
        statuses
    )
    summary = response["execution_summary"]
    assert (summary["completed_tasks"], summary["failed_tasks"]) == (1, 0)


def test_attempt_timeout_never_exceeds_what_is_left_of_the_budget() -> None:
    clock = FakeClock()
    budget, step_timeout, spent = 25.0, 20.0, 10.0

    def spend(task: StepTask) -> str:
        clock.advance(spent)
        return good(task)

    executor = ScriptedExecutor(spend, concurrent=False)

    run(executor, ANALYSIS, clock=clock, run_budget=budget, step_timeout=step_timeout)

    # each attempt may take the step timeout or what is left of the budget, whichever is less
    expected, left = [], budget
    while left > 0:
        expected.append(min(step_timeout, left))
        left -= spent
    assert [c.timeout for c in executor.calls] == expected
