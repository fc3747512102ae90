"""Running a whole chain in one call: executor attempts, checks, retries, timeouts, parallelism."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from taskchain import engine
from taskchain.capabilities import CapabilityRegistry
from taskchain.executors import Executor, StepTask
from taskchain.guidance import guide
from taskchain.limits import MAX_OUTPUT_CHARS
from taskchain.models import Session
from taskchain.text import clean

Clock = Callable[[], float]


def run_chain(
    session: Session,
    executor: Executor,
    *,
    registry: CapabilityRegistry,
    clock: Clock,
    step_timeout: float,
    budget: float,
    max_workers: int = 4,
) -> Session:
    """Work ``session`` to its end with ``executor``; return the final (or timed-out) session.

    Each ready step is attempted until its output passes the checks or its attempts run out
    (the failed checks go back to the executor with the next attempt). In ``parallel`` mode a
    ``concurrent`` executor works every ready step at once. When ``budget`` seconds have passed
    the remaining steps are left unfinished and the session stays active (a partial report).
    """
    deadline = clock() + budget
    parallel = session.definition.config.execution_mode == "parallel" and executor.concurrent
    pool = ThreadPoolExecutor(max_workers=max_workers) if executor.concurrent else None
    try:
        while session.status == "active" and clock() < deadline:
            ready = engine.ready_steps(session)
            if not ready:
                break
            batch = ready if parallel else ready[:1]
            tasks = [
                _task(session, step_id, registry, step_timeout, deadline, clock)
                for step_id in batch
            ]
            outcomes = _attempt(tasks, executor, pool, clock)
            for task, (output, error, took) in zip(tasks, outcomes, strict=True):
                step_id = task.guidance.step_id
                if error is not None:
                    session = engine.record_error(
                        session, step_id, error, now=clock(), executor=executor.name
                    )
                else:
                    assert output is not None
                    session = engine.submit(
                        session,
                        step_id,
                        output,
                        now=clock(),
                        registry=registry,
                        executor=executor.name,
                        duration=took,
                        outline=executor.writes_outlines,
                    ).session
    finally:
        if pool is not None:
            # Abandoned (timed-out) attempts are not waited for: their threads finish on their own.
            pool.shutdown(wait=False, cancel_futures=True)
    return session


def _task(
    session: Session,
    step_id: str,
    registry: CapabilityRegistry,
    step_timeout: float,
    deadline: float,
    clock: Clock,
) -> StepTask:
    """The next attempt at ``step_id``, with the failed checks of the previous one."""
    record = session.record(step_id)
    return StepTask(
        session=session,
        guidance=guide(session, step_id, registry),
        attempt=record.attempts + 1,
        previous_feedback=tuple(f for f in record.feedback if not f.passed),
        timeout=max(0.0, min(step_timeout, deadline - clock())),
    )


def _attempt(
    tasks: list[StepTask], executor: Executor, pool: ThreadPoolExecutor | None, clock: Clock
) -> list[tuple[str | None, str | None, float]]:
    """Run one attempt per task: (output, error message, seconds taken) each."""
    if pool is None:
        return [_call(executor, task) for task in tasks]
    started = clock()
    futures: list[Future[tuple[str | None, str | None, float]]] = [
        pool.submit(_call, executor, task) for task in tasks
    ]
    results = []
    for task, future in zip(tasks, futures, strict=True):
        try:
            results.append(future.result(timeout=max(0.0, task.timeout - (clock() - started))))
        except FutureTimeout:
            future.cancel()
            lang = task.guidance.language
            results.append(
                (
                    None,
                    f"执行超时（{task.timeout:.1f} 秒）"
                    if lang != "en"
                    else f"timed out after {task.timeout:.1f}s",
                    task.timeout,
                )
            )
    return results


def _call(executor: Executor, task: StepTask) -> tuple[str | None, str | None, float]:
    """One executor call; an exception becomes an error message that never leaks its text."""
    started = time.perf_counter()
    try:
        output = executor.execute(task)
    except Exception as exc:
        lang = task.guidance.language
        kind = type(exc).__name__
        return (
            None,
            f"执行器出错（{kind}）" if lang != "en" else f"executor error ({kind})",
            time.perf_counter() - started,
        )
    took = time.perf_counter() - started
    lang = task.guidance.language
    output = clean(output) if isinstance(output, str) else ""
    if not output:
        return None, "执行器没有输出" if lang != "en" else "executor returned no output", took
    if len(output) > MAX_OUTPUT_CHARS:
        return (
            None,
            f"输出超过 {MAX_OUTPUT_CHARS} 字符上限"
            if lang != "en"
            else f"output over the {MAX_OUTPUT_CHARS}-character limit",
            took,
        )
    return output, None, took
