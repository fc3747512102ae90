"""Use cases over a session store: the one place that loads and saves sessions."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

from taskchain import __version__, chain, engine, jsontext, limits, report, views
from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import TaskchainError, internal_error_body, invalid_json, session_not_found
from taskchain.executors import BuiltinExecutor, Executor
from taskchain.models import Session
from taskchain.requests import ChainRequest, ReportFormat, SkipIn, SubmitIn, parse
from taskchain.responses import (
    Capabilities,
    CapabilityInfo,
    Deleted,
    Health,
    MarkdownReport,
    ReportView,
    SessionList,
    SessionView,
    SubmitView,
    TemplateInfo,
    Templates,
)
from taskchain.runs import Launcher, RunUseCases, is_run, run_is_not_guided
from taskchain.store import SessionStore, check_limit, decode_cursor
from taskchain.templates import catalogue

VERSION = __version__
# Powertools' Logger(service="taskchain") is this same logger in Lambda: records come out as JSON.
_log = logging.getLogger("taskchain")


class Service(RunUseCases):
    """Every taskchain use case, over an injected store, clock, id source and executor.

    The use cases take requests already parsed by the caller's edge (:mod:`taskchain.requests`)
    and answer the response models of :mod:`taskchain.responses`; only :meth:`run_safely`, the
    edge of the one-shot contract, takes a raw payload.

    End users inside a tenant: every use case about one session takes the caller's ``end_user``
    (``None`` for a caller without one). A session started with an end user belongs to that end
    user: another end user of the same tenant gets ``SESSION_NOT_FOUND`` for it, exactly as for
    an unknown id. A caller without an end user (a REST client, the CLI) keeps tenant-wide access,
    and a session started without one is the whole tenant's.

    Parameters
    ----------
    store
        Where sessions live.
    clock, new_id
        Time and session ids come from here, so the engine stays pure and tests deterministic.
    executor
        Writes outlines in runs with ``config.executor: builtin`` (default: the builtin one).
    model_executor
        Writes answers in runs with ``config.executor: llm`` (``None``: no model configured;
        runs then default to ``builtin``, and asking for ``llm`` is a validation error).
    launcher
        Works async runs (``start_run``) outside the call; ``None`` works them within it.
    ttl_seconds
        Session lifetime; expired sessions are gone for every use case.
    step_timeout, run_budget
        Seconds one executor attempt, and the part of a run one call works, may take.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        executor: Executor | None = None,
        model_executor: Executor | None = None,
        launcher: Launcher | None = None,
        ttl_seconds: float = 168 * 3600,
        step_timeout: float = 20.0,
        run_budget: float = 25.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.executors: dict[str, Executor] = {"builtin": executor or BuiltinExecutor()}
        if model_executor is not None:
            self.executors["llm"] = model_executor
        self.launcher = launcher
        self.ttl_seconds = ttl_seconds
        self.step_timeout = step_timeout
        self.run_budget = run_budget

    # --- one-shot ---------------------------------------------------------------------

    def run_safely(
        self,
        payload: Any,
        *,
        tenant: str,
        end_user: str | None = None,
        budget: float | None = None,
    ) -> dict[str, Any]:
        """:meth:`run` on a raw request, answering JSON that never raises: every failure is a
        ``success: false`` body. The edge of direct invocations and :func:`taskchain.run`."""
        language = _language_of(payload)
        try:
            # A value no JSON document can hold, or nested past any request (Python callers).
            if (reason := jsontext.problem(payload)) is not None:
                raise invalid_json(reason, what=("请求", "the request"))
            request = parse(
                ChainRequest, dict(payload) if isinstance(payload, Mapping) else payload
            )
            result = self.run(request, tenant=tenant, end_user=end_user, budget=budget)
            return result.model_dump(mode="json")
        except TaskchainError as exc:
            return exc.to_body(language)
        except Exception:  # the original contract never raises: the trace goes to the log only
            _log.exception("one-shot run failed unexpectedly")
            return internal_error_body(language)

    # --- guided sessions -------------------------------------------------------------

    def start(
        self, request: ChainRequest, *, tenant: str, end_user: str | None = None
    ) -> SessionView:
        """Start a guided session: its id, version 1, progress and the ready steps' guidance."""
        definition, registry = chain.build(request)
        session = self._stored(definition, tenant=tenant, end_user=end_user)
        return views.session_view(session, registry)

    def submit(
        self,
        tenant: str,
        session_id: str,
        step_id: str,
        body: SubmitIn,
        *,
        end_user: str | None = None,
    ) -> SubmitView:
        """Check a step's output; accept it or return feedback. Saved with a version check."""
        session = self._guided(tenant, session_id, end_user)
        registry = chain.registry_for(session.definition)
        outcome = engine.submit(
            session,
            step_id,
            body.output,
            now=self.clock(),
            registry=registry,
            expected_version=body.expected_version,
        )
        self.store.save(outcome.session, expected_version=session.version)
        return views.submit_view(outcome, step_id, registry)

    def skip(
        self,
        tenant: str,
        session_id: str,
        step_id: str,
        body: SkipIn,
        *,
        end_user: str | None = None,
    ) -> SessionView:
        """Skip a step, recording the reason as a gap."""
        session = self._guided(tenant, session_id, end_user)
        new = engine.skip(
            session, step_id, body.reason, now=self.clock(), expected_version=body.expected_version
        )
        self.store.save(new, expected_version=session.version)
        return views.session_view(new, chain.registry_for(new.definition))

    def status(self, tenant: str, session_id: str, *, end_user: str | None = None) -> SessionView:
        """The resume briefing of a session."""
        session = self._load(tenant, session_id, end_user)
        return views.session_view(session, chain.registry_for(session.definition))

    @overload
    def report(
        self,
        tenant: str,
        session_id: str,
        *,
        fmt: Literal["json"] = ...,
        end_user: str | None = None,
    ) -> ReportView: ...

    @overload
    def report(
        self,
        tenant: str,
        session_id: str,
        *,
        fmt: Literal["markdown"],
        end_user: str | None = None,
    ) -> MarkdownReport: ...

    @overload
    def report(
        self, tenant: str, session_id: str, *, fmt: ReportFormat, end_user: str | None = None
    ) -> ReportView | MarkdownReport: ...

    def report(
        self,
        tenant: str,
        session_id: str,
        *,
        fmt: ReportFormat = "json",
        end_user: str | None = None,
    ) -> ReportView | MarkdownReport:
        """The report as JSON fields or as Markdown; partial while the session is open."""
        session = self._load(tenant, session_id, end_user)
        built = report.build(session, chain.registry_for(session.definition), now=self.clock())
        if fmt == "markdown":
            return MarkdownReport(
                session_id=session_id,
                partial=built.partial,
                markdown=report.to_markdown(built, session),
            )
        return ReportView(**dict(built))

    def list_sessions(
        self,
        tenant: str,
        *,
        end_user: str | None = None,
        limit: int = limits.DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        require_user: bool = False,
        caller: str | None = None,
    ) -> SessionList:
        """The tenant's sessions, newest first, a page at a time; only ``end_user``'s when given.

        ``limit`` (1 to ``MAX_PAGE_SIZE``) and ``cursor`` are checked first, whoever asks.
        ``require_user`` is for listings that must only ever show the caller's own sessions (the
        Coze route): without an ``end_user`` they list nothing rather than the whole tenant.
        ``caller`` is the end user making the request, if any: an end user sees only their own
        sessions, whatever ``end_user`` filter they ask for.
        """
        # A malformed page is refused even where the answer would be empty, as it would be where
        # the caller can see sessions: a client learns of its bug on the first call.
        check_limit(limit)
        if cursor is not None:
            decode_cursor(cursor)
        if caller is not None:
            if end_user not in (None, caller):
                return SessionList(sessions=[], next_cursor=None)
            end_user = caller
        if require_user and end_user is None:
            return SessionList(sessions=[], next_cursor=None)
        page = self.store.list(tenant, end_user=end_user, limit=limit, cursor=cursor)
        return SessionList(sessions=page.items, next_cursor=page.next_cursor)

    def delete(self, tenant: str, session_id: str, *, end_user: str | None = None) -> Deleted:
        """Delete a session (``SESSION_NOT_FOUND`` if there is none, or it is another end user's)."""
        if end_user is not None:
            # The owner never changes, so checking it before deleting is race-free.
            self._load(tenant, session_id, end_user)
        if not self.store.delete(tenant, session_id):
            raise session_not_found(session_id)
        return Deleted(session_id=session_id, deleted=True)

    def session_language(
        self, tenant: str, session_id: str, *, end_user: str | None = None
    ) -> str | None:
        """The language of a session the caller may see, to word an error about it in.

        ``None`` when there is no such session for this caller (unknown, expired, another
        tenant's or end user's: nothing is learned of those) or the store cannot say.
        """
        try:
            return self._load(tenant, session_id, end_user).language
        except TaskchainError:
            return None

    # --- catalogue --------------------------------------------------------------------

    def templates(
        self,
        *,
        language: str = "zh",
        category: str | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> Templates:
        """The built-in templates, filtered and searchable in both languages."""
        items = catalogue(language, category=category, search=search, limit=limit)
        return Templates(
            templates=[TemplateInfo.model_validate(item) for item in items], count=len(items)
        )

    def capabilities(self, *, language: str = "zh") -> Capabilities:
        """The built-in capabilities (the ten standard ones first) and their guidance."""
        registry = CapabilityRegistry.builtin()
        return Capabilities(
            capabilities=[CapabilityInfo.model_validate(c) for c in registry.describe(language)],
            count=len(registry),
        )

    def health(self, *, deep: bool = False) -> Health:
        """Liveness: version, capability count; ``deep`` also checks the store."""
        health = Health(
            status="healthy",
            version=VERSION,
            capabilities=len(CapabilityRegistry.builtin()),
            store=type(self.store).__name__,
        )
        if not deep:
            return health
        try:
            self.store.ping()
        except TaskchainError:
            return health.model_copy(
                update={"status": "unhealthy", "checks": {"store": "unavailable"}}
            )
        return health.model_copy(update={"checks": {"store": "ok"}})

    # --- internals --------------------------------------------------------------------

    def _guided(self, tenant: str, session_id: str, end_user: str | None) -> Session:
        """The tenant's session for a submit or skip: not a run, whose executor writes its steps."""
        session = self._load(tenant, session_id, end_user)
        if is_run(session):
            raise run_is_not_guided(session_id)
        return session

    def _load(self, tenant: str, session_id: str, end_user: str | None = None) -> Session:
        """The tenant's session, or ``SESSION_NOT_FOUND``: also for another tenant's, and for
        another end user's when the caller has an end user (see :class:`Service`)."""
        session = self.store.get(tenant, session_id)
        if session is None or not _reachable(session, end_user):
            raise session_not_found(session_id)
        return session


def _reachable(session: Session, end_user: str | None) -> bool:
    """Whether a caller with ``end_user`` may see the session (same tenant already checked)."""
    return end_user is None or session.end_user is None or session.end_user == end_user


def _language_of(payload: Any) -> str:
    """The language a request asks for, for its error messages (Chinese by default)."""
    if isinstance(payload, Mapping):
        config = payload.get("config")
        language = config.get("language") if isinstance(config, Mapping) else None
        # Only text asks for a language (str() of a hostile value, a huge int, would raise).
        if isinstance(language, str) and language.strip().lower().startswith("en"):
            return "en"
    return "zh"
