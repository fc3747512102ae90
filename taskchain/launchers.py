"""Where a run is worked when no caller waits for it: the :class:`~taskchain.runs.Launcher` adapters.

- :class:`ThreadLauncher`: this process's background threads (the local server).
- :class:`DurableLauncher`: a Lambda durable execution of the runs function (AWS), which works
  the run one checkpointed step per batch (:func:`look`, :func:`work_batch`;
  ``handlers/aws_durable.py``).
- none (Function Compute): ``start_run`` works the run within its own call, and callers go on
  with ``POST /v1/runs/{id}/continue``.

Every call that works a run gets a budget from its platform's remaining time
(:func:`invocation_budget`), so it answers before the platform stops it.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskchain.config import ConfigError
from taskchain.errors import ConflictError, StoreError

if TYPE_CHECKING:
    from taskchain.responses import RunView
    from taskchain.runs import RunUseCases

_log = logging.getLogger("taskchain")

MIN_MARGIN_S = 2.0  # seconds kept back from a platform's remaining time, at least ...
MARGIN_SHARE = 0.1  # ... or this share of it: saving, the report and the answer still need time
MAX_BATCHES = 500  # durable steps of one execution: 20 steps x 10 attempts, with room to spare
_EXECUTION_NAME = re.compile(r"[^A-Za-z0-9_-]")


def invocation_budget(remaining_ms: float) -> float:
    """Seconds a call may work a run when its platform stops it in ``remaining_ms``: the time
    left less a safety margin of ``max(2 s, 10 %)``; never negative."""
    remaining = max(0.0, remaining_ms / 1000)
    return max(0.0, remaining - max(MIN_MARGIN_S, MARGIN_SHARE * remaining))


def remaining_budget(context: Any) -> float | None:
    """:func:`invocation_budget` of a Lambda-like ``context`` (``get_remaining_time_in_millis``;
    the FC shell's context has it too), or ``None`` when it says nothing (the service's own
    run budget applies then)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        return invocation_budget(float(remaining()))
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class RunRef:
    """The run a launcher hands on: the event of the durable function."""

    tenant: str
    run_id: str
    end_user: str | None = None

    def to_event(self) -> dict[str, Any]:
        """The JSON object the runs function receives."""
        return {"tenant": self.tenant, "run_id": self.run_id, "end_user": self.end_user}

    @classmethod
    def from_event(cls, event: Any) -> RunRef:
        """The run named by ``event``.

        Raises
        ------
        ValueError
            ``event`` is not ``{tenant, run_id, end_user?}`` with text values.
        """
        if not isinstance(event, Mapping):
            raise ValueError("the runs function takes {tenant, run_id, end_user}")
        tenant, run_id, end_user = event.get("tenant"), event.get("run_id"), event.get("end_user")
        if not (isinstance(tenant, str) and tenant and isinstance(run_id, str) and run_id):
            raise ValueError("tenant and run_id must be non-empty text")
        if end_user is not None and not isinstance(end_user, str):
            raise ValueError("end_user must be text or null")
        return cls(tenant, run_id, end_user or None)


class LaunchError(StoreError):
    """The run was stored but could not be handed to its engine; it can still be continued."""

    code = "RUN_NOT_LAUNCHED"

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"运行 {run_id} 已保存，但未能交给后台执行：请稍后调用 POST /v1/runs/{run_id}/continue 续跑"
            "（扣子：continueRun），或重新开始",
            f"run {run_id} is stored but could not be handed to its background engine: continue "
            f"it with POST /v1/runs/{run_id}/continue (Coze: continueRun) shortly, or start again",
            details={"session_id": run_id, "retry_after": 5},
        )


# --- local: background threads -----------------------------------------------------------------


class ThreadLauncher:
    """Works runs in background threads of this process (the local server).

    A few daemon workers take launched runs from a bounded queue and call ``continue_run``
    with the run budget until the run ends, stops making progress, or ``max_rounds`` calls
    were made. Failures are logged, never raised into the request that launched the run; a run
    the queue has no room for stays stored, to be continued by ``POST /v1/runs/{id}/continue``.

    Parameters
    ----------
    budget
        Seconds each ``continue_run`` call may work (``TASKCHAIN_RUN_BUDGET_S``).
    workers, queue_size, max_rounds
        Runs worked at once, runs waiting at most, calls per run at most.
    """

    name = "thread"

    def __init__(
        self, *, budget: float, workers: int = 2, queue_size: int = 64, max_rounds: int = 100
    ) -> None:
        self.budget = budget
        self.max_rounds = max_rounds
        self._workers = max(1, workers)
        self._queue: queue.Queue[RunRef] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._service: RunUseCases | None = None

    def bind(self, service: RunUseCases) -> ThreadLauncher:
        """Work runs with ``service`` (the one this launcher was given to); returns ``self``."""
        self._service = service
        return self

    def launch(self, tenant: str, run_id: str, end_user: str | None) -> None:
        """Queue the run for a worker; return at once."""
        try:
            self._queue.put_nowait(RunRef(tenant, run_id, end_user))
        except queue.Full:
            _log.warning("run %s not queued: every worker is busy; continue it by HTTP", run_id)
            return
        with self._lock:
            while len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._serve, name=f"taskchain-run-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def join(self) -> None:
        """Wait until every launched run has been worked (tests; a graceful stop)."""
        self._queue.join()

    def work(self, ref: RunRef) -> None:
        """Continue ``ref`` until it ends or stops making progress; log failures, never raise."""
        if self._service is None:
            _log.error("run %s not worked: the thread launcher has no service", ref.run_id)
            return
        done = -1
        for _ in range(self.max_rounds):
            try:
                view = self._service.continue_run(
                    ref.tenant, ref.run_id, end_user=ref.end_user, budget=self.budget
                )
            except ConflictError:
                continue  # another caller saved the run meanwhile: load it again and go on
            except Exception:
                _log.exception("run %s stopped in the background", ref.run_id)
                return
            if view.status != "running" or view.attempts == done:
                return
            done = view.attempts

    def _serve(self) -> None:
        while True:
            ref = self._queue.get()
            try:
                self.work(ref)
            finally:
                self._queue.task_done()


# --- AWS: a Lambda durable function ------------------------------------------------------------


class DurableLauncher:
    """Starts each run as a durable execution of the runs function (``TASKCHAIN_RUNS_FUNCTION``).

    The function is invoked asynchronously (``InvocationType=Event``) by its qualified name
    or ARN: Lambda refuses to start a durable execution through an unqualified one. The
    execution is named after the run, so Lambda starts one execution per run however often
    the launch is retried. boto3 is imported on the first launch, never at cold start.

    Parameters
    ----------
    function
        The runs function's alias (or version) ARN, or ``name:alias``.
    client
        A boto3 Lambda client (tests); by default one with taskchain's bounded timeouts.

    Raises
    ------
    ConfigError
        ``function`` has no qualifier.
    """

    name = "lambda-durable"

    def __init__(self, function: str, *, client: Any | None = None) -> None:
        if not qualified(function):
            raise ConfigError(
                "TASKCHAIN_RUNS_FUNCTION",
                f"{function!r} 没有版本或别名：持久函数只能按带版本或别名的 ARN 调用",
                f"{function!r} names no version or alias: a durable function is invoked only "
                "through a qualified ARN",
            )
        self.function = function
        self._client = client

    def launch(self, tenant: str, run_id: str, end_user: str | None) -> None:
        """Invoke the runs function for the run; return once Lambda has queued it.

        Raises
        ------
        LaunchError
            Lambda could not be reached or refused the invocation (a 503; the run stays stored).
        """
        from taskchain.store.aws_config import call_errors

        failed, built_wrong = call_errors()
        payload = json.dumps(RunRef(tenant, run_id, end_user).to_event()).encode()
        try:
            answer = self.client.invoke(
                FunctionName=self.function,
                InvocationType="Event",
                Payload=payload,
                DurableExecutionName=execution_name(run_id),
            )
        except built_wrong:
            raise  # a request built wrong here: a bug to surface, not an outage
        except failed as exc:
            _log.warning("run %s not launched: %s", run_id, type(exc).__name__)
            raise LaunchError(run_id) from exc
        if answer.get("StatusCode") != 202:
            _log.warning("run %s not launched: status %s", run_id, answer.get("StatusCode"))
            raise LaunchError(run_id)

    @property
    def client(self) -> Any:
        """The Lambda client, built on first use with bounded timeouts and retries."""
        if self._client is None:
            from taskchain.store.aws_config import aws_client

            self._client = aws_client("lambda")
        return self._client


def qualified(function: str) -> bool:
    """Whether a Lambda function name or ARN carries a version or alias."""
    parts = function.split(":")
    if function.startswith("arn:"):
        return len(parts) == 8 and bool(parts[7])
    if ":function:" in function:  # a partial ARN: account:function:name[:qualifier]
        return len(parts) == 4 and bool(parts[3])
    return len(parts) == 2 and bool(parts[0]) and bool(parts[1])


def execution_name(run_id: str) -> str:
    """The durable execution's name for a run: one execution per run (64 of ``[A-Za-z0-9_-]``)."""
    return ("run-" + _EXECUTION_NAME.sub("-", run_id))[:64]


# --- the steps of the durable function ---------------------------------------------------------


def look(service: RunUseCases, ref: RunRef, remaining_ms: Callable[[], float]) -> dict[str, Any]:
    """The first durable step: the run's state as a checkpoint (:func:`checkpoint`)."""
    view = service.run_status(ref.tenant, ref.run_id, end_user=ref.end_user)
    return checkpoint(view, pause=invocation_budget(remaining_ms()) < service.step_timeout)


def work_batch(
    service: RunUseCases, ref: RunRef, remaining_ms: Callable[[], float]
) -> dict[str, Any]:
    """One durable step: one batch of the run's ready steps, within this invocation's time.

    The run is loaded from the store, so a step run again after an interruption continues
    where the session is (its last saved batch), never from the start. ``pause`` says the
    invocation has too little time left for another batch's attempts.
    """
    view = service.continue_run(
        ref.tenant,
        ref.run_id,
        end_user=ref.end_user,
        budget=invocation_budget(remaining_ms()),
        batches=1,
    )
    return checkpoint(view, pause=invocation_budget(remaining_ms()) < service.step_timeout)


def checkpoint(view: RunView, *, pause: bool) -> dict[str, Any]:
    """What a durable step checkpoints: a few hundred bytes, never the outputs."""
    return {
        "run_id": view.run_id,
        "status": view.status,
        "progress": view.progress.model_dump(),
        "attempts": view.attempts,
        "ready": [{"step_id": s.step_id, "attempt": s.attempts + 1} for s in view.current_steps],
        "pause": pause,
    }


def batch_name(state: Mapping[str, Any]) -> str:
    """The durable step's name: the chain steps its batch works (``gather_information``, or
    ``gather_information (attempt 2)``), for the execution's history."""
    names = [
        str(r["step_id"]) + (f" (attempt {r['attempt']})" if r["attempt"] > 1 else "")
        for r in state.get("ready", [])
    ]
    return (" + ".join(names) or "batch")[:256]
