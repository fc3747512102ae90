"""The parametrized ``store`` fixture every contract test runs against, one backend per param."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskchain.store import SessionStore
from taskchain.store.dynamodb import DynamoDBStore
from taskchain.store.memory import MemoryStore
from taskchain.store.sqlite import SqliteStore
from taskchain.store.tablestore import TablestoreStore
from tests.contract.tablestore_fake import FakeOTSClient, create_tablestore_table
from tests.factories import FakeClock
from tests.integration.dynamodb_local import (
    client_for,
    create_sessions_table,
    shared_endpoint,
    stop_shared_server,
)


def _memory(tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    yield MemoryStore(clock=clock)


def _sqlite(tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    store = SqliteStore(tmp_path / "sessions.db", clock=clock)
    yield store
    store.close()


def _dynamodb(tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    # Real DynamoDB Local over HTTP (started once per test session), a fresh table per test.
    client = client_for(shared_endpoint())
    table = create_sessions_table(client)
    yield DynamoDBStore(table, client=client, clock=clock)
    client.delete_table(TableName=table)


def _tablestore(tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    # No Tablestore emulator exists: an in-process fake of the SDK client (tablestore_fake.py).
    client = FakeOTSClient()
    yield TablestoreStore(create_tablestore_table(client), client=client, clock=clock)


# A new backend adds one generator here (set up, yield the store, tear down) and its name to
# BACKENDS; every contract test then runs against it too.
FACTORIES: dict[str, Callable[[Path, FakeClock], Iterator[SessionStore]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "dynamodb": _dynamodb,
    "tablestore": _tablestore,
}
# Backends that need a server started by the test session are marked integration.
BACKENDS = [
    pytest.param(name, marks=pytest.mark.integration) if name == "dynamodb" else name
    for name in FACTORIES
]


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


@pytest.fixture(scope="session", autouse=True)
def _stop_dynamodb_local() -> Iterator[None]:
    """Stop DynamoDB Local at the end of the session if a dynamodb test started it."""
    yield
    stop_shared_server()
