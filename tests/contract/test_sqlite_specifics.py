"""What only the SQLite store promises: its file, its home directory, locking and schema."""

from __future__ import annotations

import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from taskchain.errors import ConflictError, StoreError
from taskchain.store.sqlite import SCHEMA_VERSION, SqliteStore, default_home
from tests.factories import DAY, T0, FakeClock, complete_step, make_session

posix_home = pytest.mark.skipif(sys.platform == "win32", reason="sets $HOME for Path.home()")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The database file of a test."""
    return tmp_path / "data" / "sessions.db"


def _raw(path: Path) -> sqlite3.Connection:
    """A plain connection to the file, as another process would open it."""
    return sqlite3.connect(path, isolation_level=None)


# --- the file -------------------------------------------------------------------------------------


def test_the_file_is_in_wal_mode_with_the_current_schema(db: Path) -> None:
    with SqliteStore(db, clock=FakeClock()) as store:
        store.ping()

    raw = _raw(db)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_sessions_persist_across_two_store_instances(db: Path) -> None:
    # GIVEN one CLI run that creates a session and finishes a step
    session = make_session(end_user="u1")
    v2 = complete_step(session, "step_1", "第一步完成")
    first = SqliteStore(db, clock=FakeClock())
    first.create(session)
    first.save(v2, expected_version=1)
    first.close()

    # WHEN a later run opens the same file
    second = SqliteStore(db, clock=FakeClock())

    # THEN it sees the session as left, and can carry on from it
    assert second.get("t1", session.session_id) == v2
    assert [s.session_id for s in second.list("t1").items] == [session.session_id]
    second.save(complete_step(v2, "step_2", "第二步完成"), expected_version=2)
    second.close()


def test_the_indexed_columns_follow_each_save(db: Path) -> None:
    session = make_session(steps=1, end_user="u1")
    store = SqliteStore(db, clock=FakeClock())
    store.create(session)
    store.save(complete_step(session, "step_1", "完成"), expected_version=1)
    store.close()

    raw = _raw(db)
    row = raw.execute("SELECT version, status, end_user FROM sessions").fetchone()
    raw.close()
    assert row == (2, "completed", "u1")


def test_two_stores_on_one_file_racing_have_exactly_one_winner(db: Path) -> None:
    # Two instances stand for two processes: the version check must hold across connections.
    clock = FakeClock()
    stores = [SqliteStore(db, clock=clock), SqliteStore(db, clock=clock)]
    session = make_session()
    stores[0].create(session)
    racers = 10
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    guard = threading.Lock()

    def race(n: int) -> None:
        store = stores[n % 2]
        mine = complete_step(session, "step_1", f"进程 {n % 2} 线程 {n}")
        barrier.wait()
        try:
            store.save(mine, expected_version=1)
            outcome = "won"
        except ConflictError as exc:
            outcome = exc.code
        with guard:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for store in stores:
        store.close()

    assert sorted(outcomes) == ["STALE_VERSION"] * (racers - 1) + ["won"]


def test_expired_sessions_are_purged_from_the_file_on_create(db: Path) -> None:
    clock = FakeClock()
    store = SqliteStore(db, clock=clock)
    store.create(make_session(session_id="old", expires_at=T0 + 10))
    clock.advance(DAY)

    store.create(make_session(session_id="new", created_at=clock.now))
    store.close()

    raw = _raw(db)
    assert raw.execute("SELECT session_id FROM sessions").fetchall() == [("new",)]
    raw.close()


def test_a_closed_store_opens_again_on_next_use(db: Path) -> None:
    store = SqliteStore(db, clock=FakeClock())
    session = make_session()
    store.create(session)

    store.close()
    store.close()  # closing twice is harmless

    assert store.get("t1", session.session_id) == session
    store.close()


def test_an_in_memory_database_works(tmp_path: Path) -> None:
    store = SqliteStore(":memory:", clock=FakeClock())
    session = make_session()

    store.create(session)

    assert store.get("t1", session.session_id) == session
    store.close()


# --- failures -------------------------------------------------------------------------------------


def test_a_locked_database_raises_store_unavailable_and_changes_nothing(db: Path) -> None:
    # GIVEN a session, and another process holding the write lock
    store = SqliteStore(db, clock=FakeClock(), busy_timeout_ms=50)
    session = make_session()
    store.create(session)
    other = _raw(db)
    other.execute("BEGIN IMMEDIATE")

    # WHEN this store tries to write, THEN it gives up with STORE_UNAVAILABLE
    with pytest.raises(StoreError) as caught:
        store.save(complete_step(session, "step_1", "写不进去"), expected_version=1)
    assert caught.value.code == "STORE_UNAVAILABLE"
    assert caught.value.details["reason"] == "SQLITE_BUSY"
    with pytest.raises(StoreError):
        store.create(make_session())
    # readers are not blocked by a writer in WAL mode
    assert store.get("t1", session.session_id) == session

    # AND once the lock is gone the session is as it was, and writable
    other.execute("ROLLBACK")
    other.close()
    assert store.get("t1", session.session_id) == session
    store.save(complete_step(session, "step_1", "现在可以了"), expected_version=1)
    store.close()


def test_a_file_that_is_not_a_database_fails_ping(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database, just some text " * 100)
    store = SqliteStore(db, clock=FakeClock())

    with pytest.raises(StoreError) as caught:
        store.ping()

    assert caught.value.code == "STORE_UNAVAILABLE"


def test_a_newer_schema_is_refused_not_overwritten(db: Path) -> None:
    db.parent.mkdir(parents=True)
    raw = _raw(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    store = SqliteStore(db, clock=FakeClock())

    with pytest.raises(StoreError) as caught:
        store.ping()

    assert caught.value.details["schema_version"] == SCHEMA_VERSION + 1
    raw = _raw(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    raw.close()


# --- the home directory ---------------------------------------------------------------------------


def test_taskchain_home_decides_where_the_default_file_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "custom-home"
    monkeypatch.setenv("TASKCHAIN_HOME", str(home))

    store = SqliteStore(clock=FakeClock())
    store.create(make_session())
    store.close()

    assert default_home() == home
    assert Path(store.path) == home / "sessions.db"
    assert (home / "sessions.db").is_file()


@posix_home
def test_default_home_uses_xdg_data_home_on_linux(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKCHAIN_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    home = default_home(platform="linux")

    assert home == tmp_path / "xdg" / "taskchain"
    assert home.is_dir()


@posix_home
@pytest.mark.parametrize("xdg", [None, "", "relative/path"])
def test_default_home_falls_back_to_local_share_without_a_usable_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.delenv("TASKCHAIN_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)

    assert default_home(platform="linux") == tmp_path / "user" / ".local" / "share" / "taskchain"


@posix_home
def test_default_home_on_macos_and_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    env = {"LOCALAPPDATA": str(tmp_path / "local")}

    mac = default_home(environ={}, platform="darwin")
    win = default_home(environ=env, platform="win32")

    assert mac == tmp_path / "user" / "Library" / "Application Support" / "taskchain"
    assert win == tmp_path / "local" / "taskchain"


def test_taskchain_home_wins_over_the_platform_directory(tmp_path: Path) -> None:
    env = {"TASKCHAIN_HOME": str(tmp_path / "mine"), "XDG_DATA_HOME": str(tmp_path / "xdg")}

    assert default_home(environ=env, platform="linux") == tmp_path / "mine"
    assert not (tmp_path / "xdg").exists()
