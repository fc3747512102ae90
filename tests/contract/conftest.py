"""The parametrized ``store`` fixture every contract test runs against, one backend per param."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskchain.store import SessionStore
from taskchain.store.memory import MemoryStore
from taskchain.store.sqlite import SqliteStore
from tests.factories import FakeClock


def _memory(tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    yield MemoryStore(clock=clock)


def _sqlite(tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    store = SqliteStore(tmp_path / "sessions.db", clock=clock)
    yield store
    store.close()


# A new backend adds one generator here (set up, yield the store, tear down) and its name to
# BACKENDS; every contract test then runs against it too.
FACTORIES: dict[str, Callable[[Path, FakeClock], Iterator[SessionStore]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
}
BACKENDS = list(FACTORIES)


@pytest.fixture
def clock() -> FakeClock:
    """The clock the store under test reads; advance it to expire sessions."""
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[SessionStore]:
    """A fresh, empty store of each backend, driven by ``clock``."""
    yield from FACTORIES[request.param](tmp_path, clock)
