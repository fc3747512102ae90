"""The composition root: settings -> store -> service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

from taskchain.config import ConfigError, Settings
from taskchain.executors import Executor
from taskchain.service import Service
from taskchain.store import SessionStore


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
    # dynamodb: the only branch that imports boto3, so the other stores start without it.
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
        ttl_seconds=settings.session_ttl_hours * 3600,
    )
