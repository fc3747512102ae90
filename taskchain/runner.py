"""Running a whole chain in one call: executor attempts, checks, retries, timeouts, parallelism."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from taskchain import engine
from taskchain.capabilities import CapabilityRegistry
from taskchain.executors import Answer, AttemptFailed, Executor, StepTask
from taskchain.guidance import guide
from taskchain.limits import MAX_OUTPUT_CHARS
from taskchain.models import Session, Usage
from taskchain.text import clean

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one executor call gave: an output or the reason there is none, and its cost."""

    step_id: str
    attempt: int
    output: str | None
    error: str | None
    took: float
    model: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Hooks:
    """Progress callbacks of a run: attempts started (a batch), and each attempt counted."""

    started: Callable[[Session, list[StepTask]], None] | None = None
    attempted: Callable[[Session, Attempt], None] | None = None


def run_chain(
    session: Session,
    executor: Executor,
    *,
    registry: CapabilityRegistry,
    clock: Clock,
    step_timeout: float,
    budget: float,
    max_workers: int = 4,
    save: Callable[[Session], None] | None = None,
    hooks: Hooks | None = None,
    max_batches: int | None = None,
) -> Session:
    """Work ``session`` to its end with ``executor``; return the final (or timed-out) session.

    Each ready step is attempted until its output passes the checks or its attempts run out
    (the failed checks go back to the executor with the next attempt). In ``parallel`` mode a
    ``concurrent`` executor works every ready step at once (at most ``max_workers``), starting
    each step as soon as it is ready (:meth:`_Work.as_ready`). When
    ``budget`` seconds have passed no new attempt starts, and an attempt the budget cut short
    is not counted: the remaining steps are left unfinished and the session stays active (a
    partial report, resumable).

    ``save`` is called with the session after every batch of attempts (in parallel mode, after
    every attempt that ends), so an interrupted run
    (Ctrl-C, a function timeout) loses at most the attempts in flight. ``hooks`` report
    progress (the CLI's progress line). ``max_batches`` stops after that many batches (a
    durable function checkpoints each batch as a step of its own).
    """
    hooks = hooks or Hooks()
    deadline = clock() + budget
    parallel = session.definition.config.execution_mode == "parallel" and executor.concurrent
    pool = ThreadPoolExecutor(max_workers=max(1, max_workers)) if executor.concurrent else None
    if parallel and pool is not None and max_batches is None:
        work = _Work(executor, registry, clock, step_timeout, deadline, save, hooks)
        try:
            return work.as_ready(session, pool, max(1, max_workers))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    batches = 0
    try:
        while session.status == "active" and clock() < deadline:
            if max_batches is not None and batches >= max_batches:
                break
            batches += 1
            ready = engine.ready_steps(session)
            if not ready:
                break
            batch = ready[: max(1, max_workers)] if parallel else ready[:1]
            tasks = [
                _task(executor, session, step_id, registry, step_timeout, deadline, clock)
                for step_id in batch
            ]
            if hooks.started is not None:
                hooks.started(session, tasks)
            for task, attempt in zip(tasks, _attempt(tasks, executor, pool, clock), strict=True):
                if _cut_by_budget(task, attempt, step_timeout, deadline, clock):
                    continue
                session = _record(session, attempt, executor, registry, clock)
                if hooks.attempted is not None:
                    hooks.attempted(session, attempt)
            if save is not None:
                save(session)
    finally:
        if pool is not None:
            # Abandoned (timed-out) attempts are not waited for: their threads finish on their own.
            pool.shutdown(wait=False, cancel_futures=True)
    return session


def _cut_by_budget(
    task: StepTask, attempt: Attempt, step_timeout: float, deadline: float, clock: Clock
) -> bool:
    """Whether an attempt without output was cut short by the run's budget, not by its own
    timeout: not the step's failure. It stays ready, with its attempts, for the call that
    continues the run."""
    return attempt.output is None and task.timeout < step_timeout and clock() >= deadline


@dataclass(slots=True)
class _Work:
    """A parallel run that starts each step the moment it is ready (no waves)."""

    executor: Executor
    registry: CapabilityRegistry
    clock: Clock
    step_timeout: float
    deadline: float
    save: Callable[[Session], None] | None
    hooks: Hooks

    def as_ready(self, session: Session, pool: ThreadPoolExecutor, workers: int) -> Session:
        """Keep up to ``workers`` attempts in flight; count each one as it ends.

        A step becomes ready when its dependencies are done, not when every attempt started
        with them has ended: one lane of a chain never waits on another, and the checks of one
        answer run while the others are still with the model.
        """
        flying: dict[Future[Attempt], tuple[StepTask, float]] = {}
        while session.status == "active":
            if self.clock() < self.deadline:
                busy = {task.guidance.step_id for task, _ in flying.values()}
                for step_id in engine.ready_steps(session):
                    if len(flying) >= workers:
                        break
                    if step_id in busy:
                        continue
                    task = _task(
                        self.executor,
                        session,
                        step_id,
                        self.registry,
                        self.step_timeout,
                        self.deadline,
                        self.clock,
                    )
                    if self.hooks.started is not None:
                        self.hooks.started(session, [task])
                    flying[pool.submit(_call, self.executor, task)] = (task, self.clock())
            if not flying:
                break
            now = self.clock()
            wait_for = min(
                max(0.0, started + task.timeout - now) for task, started in flying.values()
            )
            done, _ = wait(flying, timeout=wait_for, return_when=FIRST_COMPLETED)
            ended = [(f, flying.pop(f)[0], f.result()) for f in done]
            now = self.clock()
            for future, (task, started) in list(flying.items()):
                if now - started >= task.timeout:  # over its time: abandoned, counted as such
                    future.cancel()
                    del flying[future]
                    ended.append((future, task, _timed_out(task)))
            for _, task, attempt in ended:
                if _cut_by_budget(task, attempt, self.step_timeout, self.deadline, self.clock):
                    continue
                session = _record(session, attempt, self.executor, self.registry, self.clock)
                if self.hooks.attempted is not None:
                    self.hooks.attempted(session, attempt)
            if ended and self.save is not None:
                self.save(session)
        return session


def _timed_out(task: StepTask) -> Attempt:
    """The attempt of ``task`` that ran past its timeout."""
    reason = (
        f"执行超时（{task.timeout:.1f} 秒）"
        if task.guidance.language != "en"
        else f"timed out after {task.timeout:.1f}s"
    )
    return Attempt(task.guidance.step_id, task.attempt, None, reason, task.timeout)


def _record(
    session: Session,
    attempt: Attempt,
    executor: Executor,
    registry: CapabilityRegistry,
    clock: Clock,
) -> Session:
    """``session`` with one attempt counted: checked and accepted or refused, or its error."""
    if attempt.output is None:
        return engine.record_error(
            session,
            attempt.step_id,
            attempt.error or "",
            now=clock(),
            executor=executor.name,
            model=attempt.model,
            usage=attempt.usage,
        )
    return engine.submit(
        session,
        attempt.step_id,
        attempt.output,
        now=clock(),
        registry=registry,
        executor=executor.name,
        duration=attempt.took,
        outline=executor.writes_outlines,
        model=attempt.model,
        usage=attempt.usage,
    ).session


def _task(
    executor: Executor,
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
        guidance=guide(
            session, step_id, registry, context_apart=getattr(executor, "context_apart", False)
        ),
        attempt=record.attempts + 1,
        previous_feedback=tuple(f for f in record.feedback if not f.passed),
        timeout=max(0.0, min(step_timeout, deadline - clock())),
    )


def _attempt(
    tasks: list[StepTask], executor: Executor, pool: ThreadPoolExecutor | None, clock: Clock
) -> list[Attempt]:
    """Run one attempt per task, at once in ``pool`` when there is one."""
    if pool is None:
        return [_call(executor, task) for task in tasks]
    started = clock()
    futures: list[Future[Attempt]] = [pool.submit(_call, executor, task) for task in tasks]
    results = []
    for task, future in zip(tasks, futures, strict=True):
        try:
            results.append(future.result(timeout=max(0.0, task.timeout - (clock() - started))))
        except FutureTimeout:
            future.cancel()
            results.append(_timed_out(task))
    return results


def _call(executor: Executor, task: StepTask) -> Attempt:
    """One executor call; an exception becomes an error message that never leaks its text."""
    step_id, lang = task.guidance.step_id, task.guidance.language
    started = time.perf_counter()
    try:
        produced = executor.execute(task)
    except AttemptFailed as exc:
        took = time.perf_counter() - started
        return Attempt(step_id, task.attempt, None, exc.message(lang), took, exc.model, exc.usage)
    except Exception as exc:
        kind = type(exc).__name__
        reason = f"执行器出错（{kind}）" if lang != "en" else f"executor error ({kind})"
        return Attempt(step_id, task.attempt, None, reason, time.perf_counter() - started)
    took = time.perf_counter() - started
    answer = produced if isinstance(produced, Answer) else Answer(text=produced)
    output = clean(answer.text) if isinstance(answer.text, str) else ""
    error = None
    if not output:
        error = "执行器没有输出" if lang != "en" else "executor returned no output"
    elif len(output) > MAX_OUTPUT_CHARS:
        error = (
            f"输出超过 {MAX_OUTPUT_CHARS} 字符上限"
            if lang != "en"
            else f"output over the {MAX_OUTPUT_CHARS}-character limit"
        )
    return Attempt(
        step_id,
        task.attempt,
        None if error else output,
        error,
        took,
        answer.model,
        answer.usage,
    )
