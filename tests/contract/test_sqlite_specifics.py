"""What only the SQLite store promises: its file, its home directory, locking and schema."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from taskchain import engine
from taskchain.errors import ConflictError, StoreError
from taskchain.models import Session
from taskchain.store import sqlite_layout, summarize
from taskchain.store.sqlite import SCHEMA_VERSION, SqliteStore, WriteMeter, default_home
from tests.factories import (
    DAY,
    T0,
    FakeClock,
    build_chain,
    complete_step,
    custom_step,
    make_session,
    passing_output,
    start_chain,
)

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


# --- the layout: a header, the definition once, a row per step -----------------------------------


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    raw = _raw(db)
    rows = raw.execute(sql).fetchall()
    raw.close()
    return rows


def _writes(log: list[str]) -> list[str]:
    return [s for s in log if s.lstrip()[:7].upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_save_writes_the_header_and_only_the_step_rows_that_changed(db: Path) -> None:
    # GIVEN a 5-step session, stored
    log: list[str] = []
    store = SqliteStore(db, clock=FakeClock(), trace=log.append)
    session = make_session(session_id="s1", steps=5)
    store.create(session)
    log.clear()

    # WHEN step 3 is completed and saved
    v2 = complete_step(session, "step_3", "第三步完成")
    store.save(v2, expected_version=1)
    store.close()

    # THEN the save was two statements: the version-checked header, and step 3's row
    writes = _writes(log)
    assert len(writes) == 2, writes
    assert writes[0].startswith("UPDATE sessions")
    assert "version = 1" in writes[0]
    assert writes[1].startswith("UPDATE steps")
    assert "'step_3'" in writes[1]
    # AND the file holds the definition once and a row per step, each at its changed_in
    assert _rows(db, "SELECT count(*) FROM definitions") == [(1,)]
    assert _rows(db, "SELECT step_id, changed_in FROM steps ORDER BY position") == [
        ("step_1", 1),
        ("step_2", 1),
        ("step_3", 2),
        ("step_4", 1),
        ("step_5", 1),
    ]
    assert SqliteStore(db, clock=FakeClock()).get("t1", "s1") == v2


def test_the_listing_columns_match_the_summary_of_the_session(db: Path) -> None:
    session = make_session(session_id="s1", steps=3, end_user="u1", target="目标" * 60)
    v2 = complete_step(session, "step_2", "完成")
    with SqliteStore(db, clock=FakeClock()) as store:
        store.create(session)
        store.save(v2, expected_version=1)
        (listed,) = store.list("t1").items

    assert listed == summarize(v2)
    assert _rows(db, "SELECT completed, total, length(target) FROM sessions") == [(1, 3, 80)]


def test_delete_and_the_purge_remove_every_row_of_a_session(db: Path) -> None:
    clock = FakeClock()
    store = SqliteStore(db, clock=clock)
    store.create(make_session(session_id="gone", steps=3))
    store.create(make_session(session_id="expires", steps=4, expires_at=T0 + 10))
    store.create(make_session(session_id="kept", steps=2, expires_at=None))

    assert store.delete("t1", "gone") is True
    clock.advance(DAY)
    store.create(make_session(session_id="new", steps=1, created_at=clock.now))  # purges
    store.close()

    assert _rows(db, "SELECT session_id FROM definitions ORDER BY 1") == [("kept",), ("new",)]
    assert _rows(db, "SELECT session_id, count(*) FROM steps GROUP BY 1 ORDER BY 1") == [
        ("kept", 2),
        ("new", 1),
    ]


def test_a_save_failing_after_its_header_leaves_the_whole_session_as_it_was(db: Path) -> None:
    # GIVEN a stored session, and a file that refuses to write step rows (past the header)
    store = SqliteStore(db, clock=FakeClock())
    session = make_session(session_id="s1", steps=3)
    store.create(session)
    raw = _raw(db)
    raw.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON steps BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )

    # WHEN a save writes the header, then fails on its step row
    with pytest.raises(StoreError) as caught:
        store.save(complete_step(session, "step_2", "写了一半"), expected_version=1)

    # THEN it reports the store unavailable, and the header is rolled back with the rest
    assert caught.value.code == "STORE_UNAVAILABLE"
    assert store.get("t1", "s1") == session
    assert _rows(db, "SELECT version FROM sessions") == [(1,)]
    raw.execute("DROP TRIGGER refuse")
    raw.close()
    store.save(complete_step(session, "step_2", "现在写完了"), expected_version=1)
    store.close()


def _every_step_at(session: Session, version: int) -> Session:
    """The next version with every record rewritten to name ``version``."""
    records = {
        sid: r.model_copy(update={"output": f"版本 {version} 的输出", "changed_in": version})
        for sid, r in session.records.items()
    }
    return session.model_copy(update={"version": version, "records": records})


def test_a_read_never_mixes_rows_of_two_saves(db: Path) -> None:
    # GIVEN a writer that keeps rewriting every step of a session, through its own connection
    clock = FakeClock()
    writer, reader = SqliteStore(db, clock=clock), SqliteStore(db, clock=clock)
    session = _every_step_at(make_session(session_id="s1", steps=6), 1)
    writer.create(session)
    done = threading.Event()

    def write() -> None:
        current = session
        for version in range(2, 150):
            nxt = _every_step_at(current, version)
            writer.save(nxt, expected_version=current.version)
            current = nxt
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    # WHEN another connection reads it meanwhile
    seen = set()
    while not done.is_set():
        got = reader.get("t1", "s1")
        assert got is not None
        # THEN each read is one save's session, header and steps alike
        assert {r.output for r in got.records.values()} == {f"版本 {got.version} 的输出"}
        assert {r.changed_in for r in got.records.values()} == {got.version}
        seen.add(got.version)
    thread.join(timeout=30)
    writer.close()
    reader.close()
    assert len(seen) > 1  # the reads did overlap the writes


# --- processes racing ------------------------------------------------------------------------------

RACING_PROCESSES = 16


def _racer(path: str, session_json: str, n: int, barrier: Any, results: Any) -> None:
    """One process: load the session, complete step 1 its own way, save when all are ready."""
    store = SqliteStore(path, busy_timeout_ms=30_000)
    session = Session.model_validate_json(session_json)
    mine = complete_step(session, "step_1", f"进程 {n} 的输出")
    store.ping()  # the file is open before the race starts
    barrier.wait(timeout=120)
    try:
        store.save(mine, expected_version=session.version)
        results.put((n, "won"))
    except ConflictError as exc:
        results.put((n, exc.code))
    except BaseException as exc:
        results.put((n, repr(exc)))
    finally:
        store.close()


def test_sixteen_processes_racing_one_step_have_exactly_one_winner(db: Path) -> None:
    # GIVEN a session on file, and 16 processes that each loaded it and completed step 1
    session = make_session(session_id="race", expires_at=None)
    with SqliteStore(db) as store:
        store.create(session)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["taskchain.store.sqlite", "tests.factories"])
    barrier, results = context.Barrier(RACING_PROCESSES + 1), context.Queue()
    racers = [
        context.Process(
            target=_racer, args=(str(db), session.model_dump_json(), n, barrier, results)
        )
        for n in range(RACING_PROCESSES)
    ]
    for racer in racers:
        racer.start()
    try:
        # WHEN they all save at once
        barrier.wait(timeout=120)
        outcomes = dict(results.get(timeout=120) for _ in racers)
    finally:
        for racer in racers:
            racer.join(timeout=30)
            if racer.is_alive():
                racer.kill()

    # THEN exactly one wins, every other one is told its version is stale
    winners = [n for n, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    assert sorted(outcomes.values()) == ["STALE_VERSION"] * (RACING_PROCESSES - 1) + ["won"]
    # AND the file holds the winner's step, whole
    with SqliteStore(db) as store:
        stored = store.get("t1", "race")
    assert stored is not None
    assert stored.version == 2
    assert stored.record("step_1").output == f"进程 {winners[0]} 的输出"


# --- the file of schema version 1 ----------------------------------------------------------------

# The schema of taskchain's first SQLite store (user_version 1): one row per session, the whole
# session's JSON in ``body``, rewritten by every save.
V1_SCHEMA = (
    """
    CREATE TABLE sessions (
        tenant      TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        version     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        end_user    TEXT,
        task_type   TEXT NOT NULL,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        expires_at  REAL,
        body        TEXT NOT NULL,
        PRIMARY KEY (tenant, session_id)
    )
    """,
    "CREATE INDEX sessions_by_created ON sessions (tenant, created_at, session_id)",
    "CREATE INDEX sessions_by_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL",
)


def _v1_file(db: Path, sessions: list[Session], *, unreadable: int = 0) -> None:
    """A file as taskchain's first SQLite store left it, holding ``sessions``."""
    db.parent.mkdir(parents=True, exist_ok=True)
    raw = _raw(db)
    raw.execute("PRAGMA journal_mode = WAL")
    for statement in V1_SCHEMA:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 1")
    rows = [
        (
            *(s.tenant, s.session_id, s.version, s.status, s.end_user, s.definition.task_type),
            *(s.created_at, s.updated_at, s.expires_at, s.model_dump_json()),
        )
        for s in sessions
    ]
    rows += [
        ("t1", f"unreadable-{n}", 1, "active", None, "custom", T0, T0, None, '{"step": "?"}')
        for n in range(unreadable)
    ]
    raw.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    raw.close()


def _v1_sessions() -> list[Session]:
    first = make_session(session_id="a", steps=3, end_user="u1", created_at=T0 - 20)
    return [
        complete_step(first, "step_2", "第二步完成"),
        make_session(session_id="b", created_at=T0 - 10, expires_at=None),
        make_session(tenant="t2", session_id="a", end_user="用户乙", created_at=T0 - 5),
        make_session(session_id="expired", created_at=T0 - DAY - 1),
    ]


def test_a_version_1_file_is_migrated_at_open_keeping_every_session(db: Path) -> None:
    # GIVEN a file written by the first SQLite store (as `make run` leaves on users' machines)
    a, b, other, _ = _v1_sessions()
    _v1_file(db, _v1_sessions(), unreadable=1)

    # WHEN this store opens it
    store = SqliteStore(db, clock=FakeClock())

    # THEN every session reads back as it was, listed as before; the expired one stays gone
    assert store.get("t1", "a") == a
    assert store.get("t1", "b") == b
    assert store.get("t2", "a") == other
    assert store.get("t1", "expired") is None
    assert store.list("t1").items == [summarize(b), summarize(a)]
    assert [s.session_id for s in store.list("t1", end_user="u1").items] == ["a"]
    # AND the sessions carry on in the new layout
    store.save(complete_step(a, "step_1", "第一步完成"), expected_version=2)
    store.close()
    assert _rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _rows(db, "SELECT count(*) FROM steps WHERE tenant = 't1' AND session_id = 'a'") == [
        (3,)
    ]
    # AND a row the models cannot read is kept aside, not lost
    assert _rows(db, "SELECT session_id FROM sessions_v1") == [("unreadable-0",)]


def test_the_migration_runs_once(db: Path) -> None:
    _v1_file(db, _v1_sessions())
    with SqliteStore(db, clock=FakeClock()) as store:
        store.ping()
    log: list[str] = []

    with SqliteStore(db, clock=FakeClock(), trace=log.append) as store:
        assert store.get("t1", "b") == _v1_sessions()[1]

    assert _writes(log) == []
    tables = _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
    assert tables == [("definitions",), ("sessions",), ("steps",)]


def test_a_migration_that_fails_halfway_leaves_the_version_1_file_as_it_was(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a version-1 file, and a disk that fails while the second session is moved
    _v1_file(db, _v1_sessions())
    before = _rows(db, "SELECT * FROM sessions ORDER BY tenant, session_id")
    insert = sqlite_layout.insert_session
    moved: list[str] = []

    def failing(conn: sqlite3.Connection, session: Session) -> None:
        if moved:
            raise sqlite3.OperationalError("disk I/O error")
        insert(conn, session)
        moved.append(session.session_id)

    monkeypatch.setattr(sqlite_layout, "insert_session", failing)

    # WHEN the store opens it, THEN it reports the store unavailable
    with pytest.raises(StoreError) as caught:
        SqliteStore(db, clock=FakeClock()).ping()
    assert caught.value.code == "STORE_UNAVAILABLE"

    # AND the file is the version-1 file it was, which a later open migrates
    assert _rows(db, "PRAGMA user_version") == [(1,)]
    assert _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("sessions",)]
    assert _rows(db, "SELECT * FROM sessions ORDER BY tenant, session_id") == before
    monkeypatch.undo()
    with SqliteStore(db, clock=FakeClock()) as store:
        assert store.get("t1", "a") == _v1_sessions()[0]


# --- what a session costs to write ---------------------------------------------------------------

STEPS = 20
OUTPUT_UNITS = 560  # min_length of each step: its passing outputs come out at ~2 KB of UTF-8


def _wal_bytes(db: Path) -> int:
    return os.path.getsize(f"{db}-wal")


def test_a_20_step_session_writes_about_its_output_once(db: Path) -> None:
    """Bytes written per guided session ≤ 2× the output submitted (issue 8, section 4).

    The session: a 20-step chain worked through the engine as the service does, each step
    accepted on its first submit with a ~2 KB output (Chinese, built to pass every check, so
    each step record also keeps the verdicts that quote it), each new version saved over the
    previous one.

    "Bytes written" is what the store asks SQLite to write, counted by SQLite's own trace
    (:class:`~taskchain.store.sqlite.WriteMeter`): every INSERT/UPDATE/DELETE of the session,
    from its create to its last save, with its bound values expanded into it, in UTF-8 bytes
    (a BLOB at its size). It counts every value stored plus the statement around it, so it
    never undercounts the row data changed. The first SQLite store rewrote the whole session
    JSON on every save: ~28× the output by this measure, growing with the square of the steps.

    Pages are reported by a second measure, asserted more loosely: the growth of the WAL (a
    reader holding a snapshot keeps SQLite from rewinding it), i.e. every page each commit
    wrote, 4 KB apiece. A commit writes whole pages, at least one per table it touches, so
    for 2 KB outputs no layout gets near 2× by that measure; what the layout decides is that a
    save writes a handful of pages, not every page of the session (~29 a save before).
    """
    steps = [
        custom_step(
            f"s{i:02d}",
            *([f"s{i - 1:02d}"] if i > 1 else []),
            validation_rules={"min_length": OUTPUT_UNITS},
        )
        for i in range(1, STEPS + 1)
    ]
    definition, registry = build_chain(steps=steps, focus_areas=["成本", "客流"])
    session = start_chain(definition)
    meter = WriteMeter()
    store = SqliteStore(db, clock=FakeClock(), trace=meter)
    store.ping()
    holder = _raw(db)
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM sessions").fetchall()  # the snapshot that pins the WAL

    store.create(session)
    created_bytes, wal_start = meter.bytes, _wal_bytes(db)
    submitted = 0
    for n, spec in enumerate(definition.steps, start=1):
        output = passing_output(session, spec.id, registry)
        outcome = engine.submit(session, spec.id, output, now=T0 + 30 * n, registry=registry)
        assert outcome.accepted, [f for f in outcome.feedback if not f.passed]
        store.save(outcome.session, expected_version=session.version)
        session = outcome.session
        submitted += len(output.encode())
    wal_growth = _wal_bytes(db) - wal_start
    holder.rollback()
    holder.close()
    assert store.get("t1", session.session_id) == session
    store.close()

    assert session.status == "completed"
    assert 1900 * STEPS <= submitted <= 2300 * STEPS  # ~2 KB a step
    # the meter saw the values: the outputs went in, zlib-compressed to about half
    assert meter.bytes - created_bytes > submitted / 3
    assert meter.bytes <= 2 * submitted
    page = _rows(db, "PRAGMA page_size")[0][0]
    assert wal_growth / (page + 24) / STEPS <= 8  # WAL frames (page + header) per save
