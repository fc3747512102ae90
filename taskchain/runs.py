"""Runs: a whole chain worked by an executor, in one call or across several (the use cases).

A run is a session whose steps an executor writes (``config.executor``: ``builtin`` outlines
or ``llm`` answers). It is stored before its first attempt and saved after every batch of
attempts, so a run that runs out of its call's budget, is interrupted, or whose function
times out keeps every step it finished and can be continued: by the platform's engine (a
:class:`Launcher`, such as a Lambda durable execution), by ``continue_run`` calls, or by the
CLI's ``--resume``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from taskchain import chain, engine, report, runner, views
from taskchain.errors import ConflictError, ExecutorUnavailableError, NotFoundError
from taskchain.executors import Executor
from taskchain.models import ChainDefinition, ExecutorName, Session
from taskchain.requests import ChainRequest
from taskchain.responses import RunResult, RunView

if TYPE_CHECKING:
    from taskchain.capabilities import CapabilityRegistry
    from taskchain.store import SessionStore


class Launcher(Protocol):
    """Hands a stored run to an engine that works it to its end outside this call."""

    name: str

    def launch(self, tenant: str, run_id: str, end_user: str | None) -> None:
        """Start working the run; return at once.

        Raises
        ------
        StoreError
            The engine could not be reached (the caller answers 503; the run stays stored).
        """
        ...


class RunUseCases:
    """The run use cases of :class:`~taskchain.service.Service` (which provides these fields)."""

    store: SessionStore
    clock: Callable[[], float]
    new_id: Callable[[], str]
    ttl_seconds: float
    step_timeout: float
    run_budget: float
    executors: dict[str, Executor]
    launcher: Launcher | None
    _load: Callable[[str, str, str | None], Session]  # the tenant's session, or not found

    @property
    def default_executor(self) -> ExecutorName:
        """``llm`` when a model is configured, otherwise ``builtin``."""
        return "llm" if "llm" in self.executors else "builtin"

    def run(
        self,
        request: ChainRequest,
        *,
        tenant: str,
        end_user: str | None = None,
        budget: float | None = None,
        hooks: runner.Hooks | None = None,
    ) -> RunResult:
        """Run a whole chain in this call (original contract); the session is kept.

        A chain that does not end within ``budget`` seconds (default and cap: the service's
        run budget) answers its partial result with ``next`` saying how to continue it.

        Raises
        ------
        ChainError, InvalidRequestError
            For a chain that cannot be built or an executor that is not configured.
        """
        session, registry = self._create(request, tenant=tenant, end_user=end_user)
        session = self._work(session, registry, budget=budget, hooks=hooks)
        return views.oneshot_response(session, report.build(session, registry, now=self.clock()))

    def start_run(
        self,
        request: ChainRequest,
        *,
        tenant: str,
        end_user: str | None = None,
        budget: float | None = None,
    ) -> RunView:
        """Store a run and hand it to the launcher; without one, work it for ``budget`` seconds
        (default and cap: the service's run budget) in this call."""
        background = self.launcher is not None
        session, registry = self._create(
            request, tenant=tenant, end_user=end_user, background=background
        )
        if self.launcher is not None:
            self.launcher.launch(tenant, session.session_id, end_user)
            return views.run_view(session, registry, None)
        session = self._work(session, registry, budget=budget, hooks=None)
        return self._view(session, registry)

    def continue_run(
        self,
        tenant: str,
        run_id: str,
        *,
        end_user: str | None = None,
        budget: float | None = None,
        hooks: runner.Hooks | None = None,
        batches: int | None = None,
    ) -> RunView:
        """Work a stored run for up to ``budget`` seconds (and ``batches`` batches of attempts)
        more; an ended run is answered as is."""
        session = self._run(tenant, run_id, end_user)
        registry = chain.registry_for(session.definition)
        if session.status == "active":
            session = self._work(session, registry, budget=budget, hooks=hooks, batches=batches)
        return self._view(session, registry)

    def run_status(self, tenant: str, run_id: str, *, end_user: str | None = None) -> RunView:
        """A run's progress, with its result once it has ended."""
        session = self._run(tenant, run_id, end_user)
        return self._view(session, chain.registry_for(session.definition))

    def run_result(self, tenant: str, run_id: str, *, end_user: str | None = None) -> RunResult:
        """A run's result in the one-shot shape, as :meth:`run` answers it: partial, with
        ``next``, while the run is unfinished (the CLI's ``--resume`` prints it)."""
        session = self._run(tenant, run_id, end_user)
        registry = chain.registry_for(session.definition)
        return views.oneshot_response(session, report.build(session, registry, now=self.clock()))

    # --- internals --------------------------------------------------------------------

    def _run(self, tenant: str, run_id: str, end_user: str | None) -> Session:
        """The tenant's run, or ``RUN_NOT_FOUND``: also for a guided session, whose steps its
        caller submits (working it here would write over them)."""
        try:
            session = self._load(tenant, run_id, end_user)
        except NotFoundError:
            raise run_not_found(run_id) from None
        if session.definition.config.executor is None:
            raise run_not_found(run_id, guided=True)
        return session

    def _create(
        self, request: ChainRequest, *, tenant: str, end_user: str | None, background: bool = False
    ) -> tuple[Session, CapabilityRegistry]:
        """The run's session, built and stored before any attempt (``background``: handed to
        the launcher, which works it to its end)."""
        definition, registry = chain.build(request, run=self.default_executor)
        if background:
            config = definition.config.model_copy(update={"background": True})
            definition = definition.model_copy(update={"config": config})
        self._executor(
            definition.config.executor or "builtin"
        )  # refuse an unconfigured executor up front
        return self._stored(definition, tenant=tenant, end_user=end_user), registry

    def _stored(self, definition: ChainDefinition, *, tenant: str, end_user: str | None) -> Session:
        """A new session of ``definition`` (version 1, first steps ready), stored."""
        session = engine.start(
            definition,
            session_id=self.new_id(),
            tenant=tenant,
            now=self.clock(),
            end_user=end_user,
            ttl_seconds=self.ttl_seconds,
        )
        self.store.create(session)
        return session

    def _work(
        self,
        session: Session,
        registry: CapabilityRegistry,
        *,
        budget: float | None,
        hooks: runner.Hooks | None,
        batches: int | None = None,
    ) -> Session:
        """Work ``session`` within the budget, saving after every batch of attempts."""
        executor = self._executor(session.definition.config.executor or "builtin")
        saved = session.version

        def save(current: Session) -> None:
            nonlocal saved
            if current.version != saved:
                self.store.save(current, expected_version=saved)
                saved = current.version

        return runner.run_chain(
            session,
            executor,
            registry=registry,
            clock=self.clock,
            step_timeout=self.step_timeout,
            budget=self.run_budget if budget is None else max(0.0, min(budget, self.run_budget)),
            max_workers=getattr(executor, "concurrency", 4),
            save=save,
            hooks=hooks,
            max_batches=batches,
        )

    def _executor(self, name: str) -> Executor:
        """The executor called ``name``, or a clear error when it is not configured."""
        executor = self.executors.get(name)
        if executor is None:
            raise ExecutorUnavailableError(
                f"没有配置模型，不能用 {name} 执行：请设置 TASKCHAIN_LLM_PROVIDER 等变量（见 README），"
                "或把 config.executor 设为 builtin",
                f"no model is configured, so executor {name} is unavailable: set "
                "TASKCHAIN_LLM_PROVIDER and the related variables (see the README), or use "
                "config.executor builtin",
                details={"field": "config.executor", "allowed": sorted(self.executors)},
            )
        return executor

    def _view(self, session: Session, registry: CapabilityRegistry) -> RunView:
        """The run view, with the report once the run has ended."""
        ended = session.status != "active"
        built = report.build(session, registry, now=self.clock()) if ended else None
        return views.run_view(session, registry, built)


def run_not_found(run_id: str, *, guided: bool = False) -> NotFoundError:
    """``RUN_NOT_FOUND``: no run ``run_id`` for this caller, or a guided session's id."""
    if guided:
        zh = (
            f"{run_id} 是引导式会话，不是运行：用 submitStep、skipStep（POST /v1/sessions/{run_id}/steps/…）"
            "逐步提交它的步骤；运行操作只适用于 startRun、runChain（POST /v1/runs、/v1/run）开始的运行"
        )
        en = (
            f"{run_id} is a guided session, not a run: submit its steps with submitStep and skipStep "
            f"(POST /v1/sessions/{run_id}/steps/…); the run operations work only runs started with "
            "startRun or runChain (POST /v1/runs, /v1/run)"
        )
    else:
        zh = f"没有运行 {run_id}（可能已过期或被删除）"
        en = f"no run {run_id} (it may have expired or been deleted)"
    return NotFoundError(zh, en, code="RUN_NOT_FOUND", details={"run_id": run_id})


def is_run(session: Session) -> bool:
    """Whether an executor writes ``session``'s steps (a run), so no caller may submit or skip
    them: a model run, or one an executor has attempted. (Guided sessions have no executor; ones
    stored before that rule say ``builtin`` and were never attempted by one.)"""
    if session.definition.config.executor is None:
        return False
    return session.definition.config.executor == "llm" or any(
        r.executor in ("builtin", "llm") for r in session.records.values()
    )


def run_is_not_guided(session_id: str) -> ConflictError:
    """``SESSION_IS_A_RUN``: a guided submit or skip of a run's step."""
    return ConflictError(
        f"会话 {session_id} 是一个运行，它的步骤由执行器（模型或内置提纲）来写，不能手动提交或跳过："
        f"用 continueRun（POST /v1/runs/{session_id}/continue）让它继续，或用 startSession 开始一个引导式会话",
        f"session {session_id} is a run: its executor (the model or the builtin outline writer) "
        "writes its steps, so they cannot be submitted or skipped: continue it with continueRun "
        f"(POST /v1/runs/{session_id}/continue), or start a guided session with startSession",
        code="SESSION_IS_A_RUN",
        details={"session_id": session_id},
    )
