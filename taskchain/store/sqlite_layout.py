"""How sessions are laid out in SQLite: the schema and its migrations, rows and back.

A session is three kinds of rows, the way the DynamoDB layout splits it into items:

- ``sessions``: the header, one row per session: the columns listings and expiry select and
  sort by, and ``body``, the JSON of the rest of the session (less its definition, its step
  records and the two times the columns hold);
- ``definitions``: the chain definition (JSON), written once by ``create``;
- ``steps``: one row per step record (JSON), rewritten only by a save that changed it.

So a save writes the header and the records it changed, not the whole session: a 20-step session
costs its outputs about once, not once per save. What ``create`` fixes stays as written: the
definition, and the header's ``created_at`` and ``expires_at`` (the engine never moves them, as
the DynamoDB layout also assumes); a save that leaves their columns alone leaves the indexes on
them alone too.

As in DynamoDB, a JSON text of 1 KB or more is stored zlib-compressed (a BLOB) when that is
smaller: a step record carries the verdicts on its output, which quote it, so compressed it
costs about what its output does. A trigger on ``sessions`` deletes a session's other rows with
its header, so ``delete`` and the purge of expired sessions stay one statement each.

Every function here runs inside a transaction its caller opened; none commits.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import zlib
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from taskchain.models import ChainDefinition, Session, StepRecord
from taskchain.store import SessionSummary, summarize

SCHEMA_VERSION = 2
COMPRESS_FROM_BYTES = 1024  # shorter JSON is stored as text: zlib would save next to nothing

LIVE = "(expires_at IS NULL OR expires_at > ?)"

# Where the header's and the listing's columns come from: the fields of a SessionSummary.
SUMMARY_COLUMNS = (
    "session_id",
    "tenant",
    "end_user",
    "task_type",
    "target",
    "status",
    "version",
    "completed",
    "total",
    "created_at",
    "updated_at",
    "expires_at",
)
# What a save writes in the header: not task_type, target and total, which come from the
# definition, nor the indexed created_at and expires_at, fixed at create.
_SAVED_COLUMNS = ("version", "status", "end_user", "completed", "updated_at", "body")
# The session's fields kept elsewhere than in the header's body.
_NOT_IN_BODY = frozenset({"definition", "records", "created_at", "expires_at"})

SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        tenant      TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        version     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        end_user    TEXT,
        task_type   TEXT NOT NULL,
        target      TEXT NOT NULL,
        completed   INTEGER NOT NULL,
        total       INTEGER NOT NULL,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        expires_at  REAL,
        body        TEXT NOT NULL,
        PRIMARY KEY (tenant, session_id)
    )
    """,
    """
    CREATE TABLE definitions (
        tenant      TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        body        TEXT NOT NULL,
        PRIMARY KEY (tenant, session_id)
    )
    """,
    """
    CREATE TABLE steps (
        tenant      TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        step_id     TEXT NOT NULL,
        position    INTEGER NOT NULL,
        changed_in  INTEGER NOT NULL,
        body        TEXT NOT NULL,
        PRIMARY KEY (tenant, session_id, step_id)
    )
    """,
    # Serves list(): the tenant's sessions in page order, newest first.
    "CREATE INDEX sessions_by_created ON sessions (tenant, created_at, session_id)",
    # Serves the purge of expired sessions without a full scan.
    "CREATE INDEX sessions_by_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL",
    # A header never goes without its parts, whichever statement deletes it.
    """
    CREATE TRIGGER sessions_delete_parts AFTER DELETE ON sessions BEGIN
        DELETE FROM definitions WHERE tenant = old.tenant AND session_id = old.session_id;
        DELETE FROM steps WHERE tenant = old.tenant AND session_id = old.session_id;
    END
    """,
)

# --- bodies -------------------------------------------------------------------------------------


def pack(text: str) -> str | bytes:
    """A body as stored: the text, or its zlib compression (a BLOB) when that is smaller."""
    raw = text.encode()
    if len(raw) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return packed
    return text


def unpack(body: str | bytes) -> str:
    """The text of a body written by :func:`pack`."""
    return zlib.decompress(body).decode() if isinstance(body, bytes) else body


# --- writing --------------------------------------------------------------------------------------


def _header(session: Session) -> dict[str, Any]:
    """The header row's columns."""
    columns: dict[str, Any] = summarize(session).model_dump()
    columns["body"] = pack(session.model_dump_json(exclude=set(_NOT_IN_BODY)))
    return columns


def insert_session(conn: sqlite3.Connection, session: Session) -> None:
    """Write every row of a new session.

    Raises
    ------
    sqlite3.IntegrityError
        A session with the same ``(tenant, session_id)`` is stored.
    """
    header = _header(session)
    names = ", ".join(header)
    marks = ", ".join("?" * len(header))
    conn.execute(f"INSERT INTO sessions ({names}) VALUES ({marks})", tuple(header.values()))
    conn.execute(
        "INSERT INTO definitions (tenant, session_id, body) VALUES (?, ?, ?)",
        (session.tenant, session.session_id, pack(session.definition.model_dump_json())),
    )
    _insert_steps(conn, session, enumerate(session.records.values()))


def update_session(
    conn: sqlite3.Connection, session: Session, *, expected_version: int, now: float
) -> bool:
    """Write the header and the records changed since ``expected_version``, if the live
    session is still at ``expected_version``; ``False`` (nothing written) if not.
    """
    header = _header(session)
    assignments = ", ".join(f"{name} = ?" for name in _SAVED_COLUMNS)
    # Compare and set in one statement: SQLite serializes writers, so of two writers (threads
    # or processes) holding the same expected_version exactly one matches.
    updated = conn.execute(
        f"UPDATE sessions SET {assignments}"
        f" WHERE tenant = ? AND session_id = ? AND version = ? AND {LIVE}",
        (
            *(header[name] for name in _SAVED_COLUMNS),
            session.tenant,
            session.session_id,
            expected_version,
            now,
        ),
    ).rowcount
    if updated != 1:
        return False
    missing = []
    for position, record in enumerate(session.records.values()):
        if record.changed_in <= expected_version:
            continue  # stored as it is by an earlier save
        written = conn.execute(
            "UPDATE steps SET changed_in = ?, body = ?"
            " WHERE tenant = ? AND session_id = ? AND step_id = ?",
            (
                record.changed_in,
                pack(record.model_dump_json()),
                session.tenant,
                session.session_id,
                record.step_id,
            ),
        ).rowcount
        if written == 0:
            missing.append((position, record))
    _insert_steps(conn, session, missing)
    return True


def _insert_steps(
    conn: sqlite3.Connection, session: Session, records: Iterable[tuple[int, StepRecord]]
) -> None:
    """Insert step rows, each with its place in the session's records."""
    conn.executemany(
        "INSERT INTO steps (tenant, session_id, step_id, position, changed_in, body)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                session.tenant,
                session.session_id,
                record.step_id,
                position,
                record.changed_in,
                pack(record.model_dump_json()),
            )
            for position, record in records
        ],
    )


# --- reading --------------------------------------------------------------------------------------


def read_session(
    conn: sqlite3.Connection, tenant: str, session_id: str, now: float
) -> Session | None:
    """The live session from its rows, or ``None``; the caller holds one read transaction, so
    the rows come from the same save.
    """
    header = conn.execute(
        "SELECT body, created_at, expires_at FROM sessions"
        f" WHERE tenant = ? AND session_id = ? AND {LIVE}",
        (tenant, session_id, now),
    ).fetchone()
    if header is None:
        return None
    body, created_at, expires_at = header
    definition = conn.execute(
        "SELECT body FROM definitions WHERE tenant = ? AND session_id = ?", (tenant, session_id)
    ).fetchone()
    steps = conn.execute(
        "SELECT step_id, body FROM steps WHERE tenant = ? AND session_id = ? ORDER BY position",
        (tenant, session_id),
    ).fetchall()
    fields = json.loads(unpack(body))
    fields["created_at"] = created_at
    fields["expires_at"] = expires_at
    fields["definition"] = _definition(definition[0])
    fields["records"] = {step_id: _record(record) for step_id, record in steps}
    return Session.model_validate(fields)


# A body is parsed once while it stays among the most recently read: a session's unchanged steps
# (and its definition) are not decompressed and validated again by every read. Keyed by the
# stored body itself, so a cached object is always the one its row holds; the models are frozen,
# so sessions may share them (as the memory store shares whole sessions). 4,096 records cover a
# few hundred open 20-step sessions (a few MB), so reading step 20 costs what reading step 2 does.
@functools.lru_cache(maxsize=4096)
def _record(body: str | bytes) -> StepRecord:
    return StepRecord.model_validate_json(unpack(body))


@functools.lru_cache(maxsize=256)
def _definition(body: str | bytes) -> ChainDefinition:
    return ChainDefinition.model_validate_json(unpack(body))


def summary(row: tuple[Any, ...]) -> SessionSummary:
    """A listing's summary of a header row selected as :data:`SUMMARY_COLUMNS`."""
    return SessionSummary.model_validate(dict(zip(SUMMARY_COLUMNS, row, strict=True)))


# --- schema ---------------------------------------------------------------------------------------


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the current schema in an empty file."""
    for statement in SCHEMA:
        conn.execute(statement)


def migrate_from_v1(conn: sqlite3.Connection) -> None:
    """Take a version-1 file (one ``sessions`` row per session, its whole JSON in ``body``) to
    the current schema, moving every session into its rows.

    A row the current models cannot read (it could not be read before the migration either) is
    kept in the renamed table ``sessions_v1`` rather than lost; the table is dropped once empty.
    """
    conn.execute("DROP INDEX sessions_by_created")
    conn.execute("DROP INDEX sessions_by_expiry")
    conn.execute("ALTER TABLE sessions RENAME TO sessions_v1")
    create_schema(conn)
    for rowid, body in conn.execute("SELECT rowid, body FROM sessions_v1").fetchall():
        try:
            session = Session.model_validate_json(body)
        except ValidationError:
            continue
        insert_session(conn, session)
        conn.execute("DELETE FROM sessions_v1 WHERE rowid = ?", (rowid,))
    if conn.execute("SELECT 1 FROM sessions_v1 LIMIT 1").fetchone() is None:
        conn.execute("DROP TABLE sessions_v1")


# MIGRATIONS[n - 1] takes a file from schema version n to n + 1 (a new file is created at the
# current version directly); a new schema appends one.
MIGRATIONS = (migrate_from_v1,)
assert len(MIGRATIONS) == SCHEMA_VERSION - 1


__all__ = [
    "LIVE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SUMMARY_COLUMNS",
    "create_schema",
    "insert_session",
    "read_session",
    "summary",
    "update_session",
]
