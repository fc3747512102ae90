"""The sessions a SQLite store has just read or written, kept while no one else writes the file.

A submit reads a session and saves it; the next submit of that session reads it again. Reading
it back from its rows costs what parsing its header and the validation of a whole session do;
the store instead keeps each session as its own connection last read or wrote it, and hands
that out again for as long as no other connection has committed to the file. SQLite says when
one has: ``PRAGMA data_version`` changes with every commit of another connection (another
thread's store, another process) and never with the store's own. So the store reads it first
(one statement) and forgets everything it kept when it moved: a session is never handed out
older than what the file holds, and sessions from other writers are read from their rows.
"""

from __future__ import annotations

import sqlite3

from taskchain.models import Session

_Key = tuple[str, str]


class SessionCache:
    """Sessions by ``(tenant, session_id)``, valid while the file's data version stays put.

    Parameters
    ----------
    size
        How many sessions to keep; past that it starts afresh (a server keeps the sessions
        being worked on, a few hundred at most, each sharing its step records with the rest).
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._sessions: dict[_Key, Session] = {}
        self._version: int | None = None

    def sync(self, conn: sqlite3.Connection) -> None:
        """Forget every session if another connection has committed since the last look."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._sessions.clear()
            self._version = version

    def get(self, tenant: str, session_id: str, now: float) -> Session | None:
        """The session as last read or written, if kept and live at ``now``."""
        session = self._sessions.get((tenant, session_id))
        return None if session is None or session.expired(now) else session

    def put(self, session: Session) -> None:
        """Keep ``session``, which the file now holds exactly (it was just read or written)."""
        if len(self._sessions) >= self._size:
            self._sessions.clear()
        self._sessions[(session.tenant, session.session_id)] = session

    def saved(self, session: Session) -> None:
        """Keep ``session`` just saved over the one kept: a save writes the header and the
        records, never the definition nor the times fixed at create, so only a session that
        agrees with the one read on those is kept as it is (in practice, every one)."""
        key = (session.tenant, session.session_id)
        read = self._sessions.pop(key, None)
        if (
            read is not None
            and read.definition is session.definition
            and read.created_at == session.created_at
            and read.expires_at == session.expires_at
        ):
            self.put(session)

    def drop(self, tenant: str, session_id: str) -> None:
        """Forget one session (deleted, or a save that failed)."""
        self._sessions.pop((tenant, session_id), None)

    def clear(self) -> None:
        """Forget everything (the connection is closed: data versions start afresh)."""
        self._sessions.clear()
        self._version = None
