"""An in-process session store: a dict behind a lock, for tests and single-process use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

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
    summarize,
)

_Key = tuple[str, str]


class MemoryStore:
    """Sessions in a dict keyed by ``(tenant, session_id)``; nothing survives the process.

    Sessions are immutable pydantic models, so they are stored and returned as they are: no
    caller can change a stored session behind the store's back.

    Parameters
    ----------
    clock
        Seconds since the epoch; decides which sessions have expired.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[_Key, Session] = {}
        # One lock makes each compare-and-set atomic across threads.
        self._lock = threading.Lock()

    def create(self, session: Session) -> None:
        """Store a new session; see :meth:`taskchain.store.SessionStore.create`."""
        key = (session.tenant, session.session_id)
        with self._lock:
            now = self._clock()
            self._purge(now)
            if key in self._sessions:
                raise session_exists(session.session_id)
            self._sessions[key] = session

    def get(self, tenant: str, session_id: str) -> Session | None:
        """The live session, or ``None``; see :meth:`taskchain.store.SessionStore.get`."""
        with self._lock:
            return self._live((tenant, session_id), self._clock())

    def save(self, session: Session, *, expected_version: int) -> None:
        """Replace the session if still at ``expected_version``; see ``SessionStore.save``."""
        check_save(session, expected_version)
        key = (session.tenant, session.session_id)
        with self._lock:
            current = self._live(key, self._clock())
            if current is None:
                raise session_not_found(session.session_id)
            if current.version != expected_version:
                raise stale_version(expected_version, current.version)
            self._sessions[key] = session

    def delete(self, tenant: str, session_id: str) -> bool:
        """Delete the session; see :meth:`taskchain.store.SessionStore.delete`."""
        with self._lock:
            live = self._live((tenant, session_id), self._clock())
            self._sessions.pop((tenant, session_id), None)
            return live is not None

    def ping(self) -> None:
        """Always usable."""

    def list(
        self,
        tenant: str,
        *,
        end_user: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> SessionPage:
        """A page of live sessions, newest first; see :meth:`taskchain.store.SessionStore.list`."""
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        with self._lock:
            now = self._clock()
            found = [
                s
                for (t, _), s in self._sessions.items()
                if t == tenant
                and not s.expired(now)
                and (end_user is None or s.end_user == end_user)
                and (after is None or (s.created_at, s.session_id) < after)
            ]
        found.sort(key=lambda s: (s.created_at, s.session_id), reverse=True)
        # A cursor only when more remain, so the last full page is not followed by an empty one.
        items = [summarize(s) for s in found[:limit]]
        last = items[-1] if len(found) > limit else None
        return SessionPage(
            items=items,
            next_cursor=encode_cursor(last.created_at, last.session_id) if last else None,
        )

    def _live(self, key: _Key, now: float) -> Session | None:
        """The stored session under ``key`` unless it has expired (caller holds the lock)."""
        session = self._sessions.get(key)
        return None if session is None or session.expired(now) else session

    def _purge(self, now: float) -> None:
        """Drop expired sessions so a long-lived process does not grow without bound."""
        for key in [k for k, s in self._sessions.items() if s.expired(now)]:
            del self._sessions[key]
