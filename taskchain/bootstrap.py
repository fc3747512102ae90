"""The one composition root: settings -> store -> service -> HTTP application -> handler.

The CLI and the library take :func:`bootstrap` (a service); every platform shell takes
:func:`make_handler` (the handler the platform calls) or :func:`cached_handler` (built once per
process, at cold start). Time, ids and the executor are chosen here and nowhere else.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from taskchain.config import ConfigError, Settings
from taskchain.executors import Executor
from taskchain.launchers import DurableLauncher, ThreadLauncher
from taskchain.runs import Launcher
from taskchain.service import Service
from taskchain.store import SessionStore

if TYPE_CHECKING:
    from taskchain.http.idempotency import Idempotency
    from taskchain.http.settings import HttpSettings

Handler = Callable[[Any, Any], Any]


def build_store(settings: Settings, *, clock: Callable[[], float] = time.time) -> SessionStore:
    """The store ``settings`` name; backends are imported only when chosen."""
    if settings.store == "memory":
        from taskchain.store.memory import MemoryStore

        return MemoryStore(clock=clock)
    if settings.store == "sqlite":
        from taskchain.store.sqlite import SqliteStore, default_home

        try:
            home = settings.home or default_home()
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                "TASKCHAIN_HOME",
                f"无法使用数据目录 {settings.home or '（默认目录）'}（错误号 {exc.errno}）",
                f"cannot use {settings.home or 'the data directory'}: {exc.strerror}",
            ) from None
        return SqliteStore(home / "sessions.db", clock=clock)
    if settings.store == "tablestore":
        # Aliyun: the only branch that imports the tablestore SDK, on the store's first use.
        from taskchain.store.tablestore import TablestoreStore

        assert settings.table_name is not None  # Settings.from_env requires it for tablestore
        return TablestoreStore(
            settings.table_name,
            endpoint=settings.ots_endpoint,
            instance_name=settings.ots_instance,
            clock=clock,
        )
    # dynamodb: the only branch that imports boto3 (on the store's first use), so the other stores
    # never import it.
    from taskchain.store.dynamodb import DynamoDBStore

    assert settings.table_name is not None  # Settings.from_env requires it for dynamodb
    return DynamoDBStore(settings.table_name, endpoint_url=settings.dynamodb_endpoint, clock=clock)


def bootstrap(
    env: Mapping[str, str] | None = None,
    *,
    store: SessionStore | None = None,
    clock: Callable[[], float] = time.time,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    executor: Executor | None = None,
    model_executor: Executor | None = None,
    launcher: Launcher | None = None,
) -> Service:
    """Build the service from the environment (or the given parts).

    Raises
    ------
    ConfigError
        A ``TASKCHAIN_*`` variable is invalid (raised at start-up, not on the first request).
    """
    settings = Settings.from_env(env)
    return Service(
        store or build_store(settings, clock=clock),
        clock=clock,
        new_id=new_id,
        executor=executor,
        model_executor=model_executor if model_executor is not None else build_model(settings),
        launcher=launcher,
        ttl_seconds=settings.session_ttl_hours * 3600,
        step_timeout=settings.step_timeout,
        run_budget=settings.run_budget,
    )


def build_model(settings: Settings) -> Executor | None:
    """The model executor ``settings`` configure, or ``None`` (runs then write outlines)."""
    if settings.llm is None:
        return None
    from taskchain.llm.executor import LlmExecutor  # the model client only where one is set

    return LlmExecutor(settings.llm)


def make_handler(
    env: Mapping[str, str] | None = None,
    *,
    settings: Settings | None = None,
    http_settings: HttpSettings | None = None,
    service: Service | None = None,
    idempotency: Idempotency | None = None,
    fetch_parameter: Callable[[str], str] | None = None,
    background: bool = False,
) -> Handler:
    """Build everything a platform's handler needs, once, and return the handler.

    Parameters
    ----------
    env
        Where ``TASKCHAIN_*`` come from (``os.environ`` by default).
    settings, http_settings, service, idempotency
        Ready-made parts (tests); by default built from ``env``.
    fetch_parameter
        Reads the SSM parameter named by ``TASKCHAIN_API_TOKENS_PARAMETER`` (Powertools'
        ``get_parameter`` by default).
    background
        The process outlives its requests (the local server): runs started by ``POST /v1/runs``
        are worked in its background threads (see :func:`build_launcher`).

    Raises
    ------
    ConfigError
        A variable is invalid, or no token is configured outside anonymous mode: the function
        fails at cold start, naming the variable, instead of on its first request.
    """
    # The HTTP layer (Powertools) is loaded only by the shells, never by the CLI or library.
    from taskchain.http import telemetry
    from taskchain.http.app import build_resolver
    from taskchain.http.auth import Authenticator, load_tokens
    from taskchain.http.entry import lambda_handler
    from taskchain.http.idempotency import Idempotency, persistence_for
    from taskchain.http.settings import HttpSettings

    settings = settings or Settings.from_env(env)
    http_settings = http_settings or HttpSettings.from_env(env)
    tokens = load_tokens(http_settings, fetch=fetch_parameter)
    if http_settings.allow_anonymous:
        telemetry.logger.warning(
            "TASKCHAIN_ALLOW_ANONYMOUS is on: requests without a token act as tenant 'local'. "
            "Use it for local development only."
        )
    authenticator = Authenticator(
        tokens, header=http_settings.api_key_header, anonymous=http_settings.allow_anonymous
    )
    idempotency = idempotency or Idempotency(persistence_for(settings))
    if service is None:
        launcher = build_launcher(settings, background=background)
        service = bootstrap(env, launcher=launcher)
        if isinstance(launcher, ThreadLauncher):
            launcher.bind(service)
    resolver = build_resolver(
        service, authenticator, idempotency, api_key_header=http_settings.api_key_header
    )
    return lambda_handler(resolver, service)


def build_launcher(settings: Settings, *, background: bool = False) -> Launcher | None:
    """Where ``POST /v1/runs`` hands its runs: the durable function ``TASKCHAIN_RUNS_FUNCTION``
    names (AWS), else this process's threads when it outlives its requests (the local server),
    else nothing: the start call works the run within its own time (Function Compute).

    Raises
    ------
    ConfigError
        ``TASKCHAIN_RUNS_FUNCTION`` names no version or alias.
    """
    if settings.runs_function:
        return DurableLauncher(settings.runs_function)  # boto3 only on its first launch
    if background:
        return ThreadLauncher(budget=settings.run_budget)
    return None


_BUILDING = threading.Lock()


def cached_handler() -> Handler:
    """The handler for this process's environment, built on first use and kept (warm starts).

    Requests that arrive together on a fresh instance (FC serves several at once) wait for the
    one build instead of each building a handler.
    """
    with _BUILDING:
        return _handler()


@cache
def _handler() -> Handler:
    """The handler, built once."""
    return make_handler()
