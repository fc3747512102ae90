"""The embedded default session store: one SQLite file in the user's data directory."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from taskchain.errors import StoreError
from taskchain.models import Session
from taskchain.store import (
    SessionPage,
    check_limit,
    check_save,
    decode_cursor,
    encode_cursor,
    session_exists,
    session_not_found,
    stale_version,
)
from taskchain.store import sqlite_layout as layout
from taskchain.store.sqlite_cache import SessionCache
from taskchain.store.sqlite_files import WriteMeter, default_home
from taskchain.store.sqlite_layout import LIVE, SCHEMA_VERSION


class SqliteStore:
    """Sessions in one SQLite file, shared safely by threads and by successive CLI runs.

    The file is opened on first use, in WAL mode (readers never block the writer), with a busy
    timeout so a second process waits its turn instead of failing at once. One connection is
    shared by the store's threads behind a lock, so a thread-per-request server does not leave a
    connection behind per thread; other processes are kept consistent by SQLite itself, since every
    update checks the version in the same statement that writes. The sessions the store has just
    read or written are kept in memory while no other connection writes the file
    (:mod:`taskchain.store.sqlite_cache`).

    Durability: by default a commit is durable once SQLite has written it to the WAL
    (``synchronous = NORMAL``), not once the disk has flushed it: a session survives the process
    crashing at any point, but a power loss or an OS crash may roll back the last saves before
    the WAL is next flushed (at a checkpoint); the file stays consistent either way. ``durable``
    flushes at every commit (``synchronous = FULL``), at the cost of a disk flush per save.

    Parameters
    ----------
    path
        The database file; ``default_home() / "sessions.db"`` by default. ``":memory:"`` keeps it
        in memory.
    clock
        Seconds since the epoch; decides which sessions have expired.
    busy_timeout_ms
        How long to wait for another connection's write lock before giving up with
        :class:`~taskchain.errors.StoreError`.
    trace
        Called with every statement SQLite runs on the store's connection, its parameters
        expanded (``sqlite3.Connection.set_trace_callback``): for diagnostics, and for
        measuring what the store writes.
    durable
        Flush every commit to disk before it returns (see Durability above).

    Attributes
    ----------
    path : str
        The database file in use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 5000,
        trace: Callable[[str], object] | None = None,
        durable: bool = False,
    ) -> None:
        self.path = os.fspath(path) if path is not None else str(default_home() / "sessions.db")
        self._clock = clock
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._trace = trace
        self._synchronous = "FULL" if durable else "NORMAL"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._cache = SessionCache()

    # --- SessionStore ---------------------------------------------------------------------------

    def create(self, session: Session) -> None:
        """Store a new session; see :meth:`taskchain.store.SessionStore.create`.

        Writes the header, the definition and every step record in one transaction.
        """
        with self._db() as db:
            with self._begin(db, write=True):
                # Purging here keeps the file from growing with sessions nobody can read any
                # more, and frees the id of an expired session for reuse (the trigger takes its
                # parts).
                db.execute("DELETE FROM sessions WHERE expires_at <= ?", (self._clock(),))
                try:
                    layout.insert_session(db, session)
                except sqlite3.IntegrityError:
                    raise session_exists(session.session_id) from None
            self._cache.put(session)  # committed; under the lock, as every use of the cache

    def get(self, tenant: str, session_id: str) -> Session | None:
        """The live session, or ``None``; see :meth:`taskchain.store.SessionStore.get`."""
        now = self._clock()
        with self._db() as db:
            self._cache.sync(db)
            kept = self._cache.get(tenant, session_id, now)
            if kept is not None:
                return kept
            # One read transaction: its header, definition and steps come from the same save.
            with self._begin(db, write=False):
                session = layout.read_session(db, tenant, session_id, now)
            if session is not None:
                self._cache.put(session)
            return session

    def save(self, session: Session, *, expected_version: int) -> None:
        """Replace the session if still at ``expected_version``; see ``SessionStore.save``.

        One transaction writes the header (checking the version in the same statement) and only
        the step records that changed since ``expected_version`` (``changed_in >
        expected_version``; for the usual save of ``expected_version + 1``, those with
        ``changed_in == session.version``); the definition is never written again.
        """
        check_save(session, expected_version)
        now = self._clock()
        with self._db() as db:
            with self._begin(db, write=True):
                written = layout.update_session(
                    db, session, expected_version=expected_version, now=now
                )
                found = None
                if not written:
                    # Nothing written; only now find out why, for the caller's error.
                    found = db.execute(
                        "SELECT version FROM sessions"
                        f" WHERE tenant = ? AND session_id = ? AND {LIVE}",
                        (session.tenant, session.session_id, now),
                    ).fetchone()
            if written:  # and committed (a failed commit raised: the file holds what was kept)
                self._cache.saved(session)
                return
            self._cache.drop(session.tenant, session.session_id)
        if found is None:
            raise session_not_found(session.session_id)
        raise stale_version(expected_version, int(found[0]))

    def delete(self, tenant: str, session_id: str) -> bool:
        """Delete the session; see :meth:`taskchain.store.SessionStore.delete`."""
        with self._db() as db:
            # An expired row is left to the purge: for the caller it is already gone (False).
            # One statement, so one transaction: the trigger deletes the session's other rows.
            deleted = db.execute(
                f"DELETE FROM sessions WHERE tenant = ? AND session_id = ? AND {LIVE}",
                (tenant, session_id, self._clock()),
            ).rowcount
            self._cache.drop(tenant, session_id)
        return deleted > 0

    def ping(self) -> None:
        """Open the file and read the table; raise :class:`~taskchain.errors.StoreError` if not."""
        with self._db() as db:
            db.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()

    def list(
        self,
        tenant: str,
        *,
        end_user: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> SessionPage:
        """A page of live sessions, newest first; see :meth:`taskchain.store.SessionStore.list`.

        Reads the header rows only: a page costs its summaries, not its sessions' outputs.
        """
        check_limit(limit)
        columns = ", ".join(layout.SUMMARY_COLUMNS)
        sql = f"SELECT {columns} FROM sessions WHERE tenant = ? AND {LIVE}"
        params: tuple[Any, ...] = (tenant, self._clock())
        if end_user is not None:
            sql += " AND end_user = ?"
            params += (end_user,)
        if cursor is not None:
            created_at, session_id = decode_cursor(cursor)
            sql += " AND (created_at < ? OR (created_at = ? AND session_id < ?))"
            params += (created_at, created_at, session_id)
        # One row more than asked tells whether a next page exists, so the last page is not
        # followed by an empty one.
        sql += " ORDER BY created_at DESC, session_id DESC LIMIT ?"
        params += (limit + 1,)
        with self._db() as db:
            rows = db.execute(sql, params).fetchall()
        items = [layout.summary(row) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        return SessionPage(
            items=items,
            next_cursor=encode_cursor(last.created_at, last.session_id) if last else None,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; the next call opens it again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------------

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The open connection, held under the lock; SQLite failures become StoreError."""
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._open()
                yield self._conn
            except sqlite3.ProgrammingError:
                raise  # a bug in this module, not an unavailable store
            except (sqlite3.DatabaseError, OSError) as exc:
                # A failed call wrote nothing: a lone statement runs in autocommit mode, several
                # run in one transaction that is rolled back (see _transaction).
                raise _unavailable(exc) from exc

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """The connection inside one transaction, committed when the block ends, rolled back if
        it raises (or if the process dies first: SQLite keeps only committed transactions).

        A write transaction is ``IMMEDIATE``: it takes the write lock before its first read
        (waiting up to the busy timeout for another writer), so it reads the latest version and
        is never refused for a stale snapshot. A read transaction sees one snapshot throughout
        and does not block writers (WAL).
        """
        with self._db() as db, self._begin(db, write=write):
            yield db

    @contextmanager
    def _begin(self, db: sqlite3.Connection, *, write: bool) -> Iterator[None]:
        """One transaction on ``db``, which the caller holds (see :meth:`_transaction`)."""
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            self._rollback(db)
            raise

    def _rollback(self, db: sqlite3.Connection) -> None:
        """End the open transaction, writing nothing; drop the connection if that fails."""
        if not db.in_transaction:
            return  # SQLite rolled it back already (as it does after some I/O errors)
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            # Closing rolls back too; the next call opens a fresh connection.
            self._conn = None
            db.close()

    def _open(self) -> sqlite3.Connection:
        """Connect, switch to WAL, and bring the schema up to date."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            # Autocommit: a lone statement is its own transaction; _transaction and _migrate
            # open one explicitly around several.
            isolation_level=None,
            # Shared by the store's threads, one at a time under self._lock.
            check_same_thread=False,
        )
        try:
            if self._trace is not None:
                conn.set_trace_callback(self._trace)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._cache.clear()  # what it kept was read through another connection
        return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations the file has not seen yet, in one write transaction."""
    if _user_version(conn) == SCHEMA_VERSION:
        return
    # IMMEDIATE takes the write lock first, so two processes opening a new (or old) file do not
    # both create (or migrate) the tables; the version is read again under the lock. One
    # transaction: a migration interrupted halfway leaves the file as it was.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _user_version(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"会话数据库的结构版本 {current} 比本程序支持的 {SCHEMA_VERSION} 新，"
                "请升级 taskchain",
                f"the session database has schema version {current}, newer than the supported "
                f"{SCHEMA_VERSION}; upgrade taskchain",
                details={"schema_version": current, "supported": SCHEMA_VERSION},
            )
        if current == 0:
            layout.create_schema(conn)  # a new file
        else:
            for migration in layout.MIGRATIONS[current - 1 :]:
                migration(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _unavailable(exc: sqlite3.DatabaseError | OSError) -> StoreError:
    """The StoreError for a SQLite or file-system failure, naming its kind but not its text."""
    reason = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return StoreError(
        "会话存储暂时不可用（SQLite），会话未被修改，请稍后重试",
        "the session store (SQLite) is unavailable; the session was not changed, retry later",
        details={"backend": "sqlite", "reason": reason},
    )


__all__ = ["SCHEMA_VERSION", "SqliteStore", "WriteMeter", "default_home"]
