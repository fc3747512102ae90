"""The session store port: the Protocol every backend implements, and its listing models."""

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import Field

from taskchain import jsontext
from taskchain.errors import SessionExistsError, invalid_field, session_not_found, stale_version
from taskchain.limits import MAX_PAGE_SIZE
from taskchain.models import ChainDefinition, Frozen, Session, SessionStatus, StepRecord, TaskType
from taskchain.states import StepState

SUMMARY_TARGET_CHARS = 80


class SessionSummary(Frozen):
    """What a listing shows of one session, without its steps' outputs."""

    session_id: str = Field(description="会话 ID（session id）")
    tenant: str = Field(description="所属租户（tenant）")
    end_user: str | None = Field(description="所属最终用户（end user）")
    task_type: TaskType = Field(description="任务类型（task type）")
    target: str = Field(description="目标的前 80 个字（the first 80 characters of the goal）")
    status: SessionStatus = Field(description="会话状态（session status）")
    version: int = Field(description="会话版本（session version）")
    completed: int = Field(description="已完成的步骤数（steps completed）")
    total: int = Field(description="步骤总数（steps in the chain）")
    created_at: float = Field(description="创建时间，Unix 秒（created at）")
    updated_at: float = Field(description="更新时间，Unix 秒（updated at）")
    expires_at: float | None = Field(description="过期时间，Unix 秒（expires at）")


class SessionPage(Frozen):
    """One page of a listing; ``next_cursor`` is ``None`` on the last page."""

    items: list[SessionSummary]
    next_cursor: str | None = None


def summarize(session: Session) -> SessionSummary:
    """Summarize a session for a listing.

    Parameters
    ----------
    session
        The session to summarize.

    Returns
    -------
    SessionSummary
        Its identity, status and progress, with the target cut to 80 characters.
    """
    return SessionSummary(
        session_id=session.session_id,
        tenant=session.tenant,
        end_user=session.end_user,
        task_type=session.definition.task_type,
        target=session.definition.target[:SUMMARY_TARGET_CHARS],
        status=session.status,
        version=session.version,
        completed=session.count(StepState.COMPLETED),
        total=len(session.definition.steps),
        created_at=session.created_at,
        updated_at=session.updated_at,
        expires_at=session.expires_at,
    )


def session_from_parts(
    fields: Mapping[str, Any], definition: ChainDefinition, records: dict[str, StepRecord]
) -> Session:
    """A session from a stored header's summary fields, its definition and its step records:
    how every backend that stores a session in parts puts it back together."""
    return Session.model_validate(
        {
            "session_id": fields["session_id"],
            "tenant": fields["tenant"],
            "end_user": fields.get("end_user"),
            "version": fields["version"],
            "status": fields["status"],
            "definition": definition,
            "records": records,
            "created_at": fields["created_at"],
            "updated_at": fields["updated_at"],
            "expires_at": fields.get("expires_at"),
        }
    )


class SessionStore(Protocol):
    """Where sessions live between requests, scoped to a tenant, written with optimistic locking.

    A session whose ``expires_at <= now`` (``now`` from the store's injected clock) is gone for
    every method: ``get`` returns ``None``, ``list`` leaves it out, ``save`` and ``delete`` treat
    it as missing. Backends translate their own failures into :class:`~taskchain.errors.StoreError`
    and leave the stored session unchanged when they do.

    A backend that writes per-step items may write only the records whose
    ``StepRecord.changed_in == session.version``; the memory store keeps the whole session.
    """

    def create(self, session: Session) -> None:
        """Store a new session.

        Raises
        ------
        SessionExistsError
            A live session with the same ``(tenant, session_id)`` exists.
        StoreError
            The backend is unusable.
        """
        ...

    def get(self, tenant: str, session_id: str) -> Session | None:
        """The session, or ``None`` when absent, another tenant's, or expired.

        Raises
        ------
        StoreError
            The backend is unusable.
        """
        ...

    def save(self, session: Session, *, expected_version: int) -> None:
        """Replace the stored session if its version is still ``expected_version``.

        ``session.version`` must be greater than ``expected_version`` (the caller bumps it), so
        two writers starting from the same version can never both succeed.

        Raises
        ------
        ConflictError
            ``code="STALE_VERSION"``: another writer got there first; ``details`` carries
            ``expected_version`` and ``current_version``.
        NotFoundError
            ``code="SESSION_NOT_FOUND"``: the session was deleted, expired, or never existed for
            this tenant.
        StoreError
            The backend is unusable.
        """
        ...

    def delete(self, tenant: str, session_id: str) -> bool:
        """Delete the session; ``True`` if a live session was deleted, ``False`` otherwise.

        Raises
        ------
        StoreError
            The backend is unusable.
        """
        ...

    def list(
        self,
        tenant: str,
        *,
        end_user: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> SessionPage:
        """A page of the tenant's live sessions, newest first (by ``created_at``, then id).

        Parameters
        ----------
        tenant
            Whose sessions.
        end_user
            Only this end user's sessions, when given.
        limit
            At most this many items (1 to 100).
        cursor
            The ``next_cursor`` of the previous page; opaque to the caller.

        Raises
        ------
        InvalidRequestError
            ``code="INVALID_FIELD"``: a malformed ``cursor`` or a ``limit`` out of range.
        StoreError
            The backend is unusable.
        """
        ...

    def ping(self) -> None:
        """Check the backend is usable (for a deep health check).

        Raises
        ------
        StoreError
            The backend is unusable.
        """
        ...


# --- helpers shared by the backends -------------------------------------------------------------


def check_limit(limit: int) -> int:
    """Validate a page size.

    Raises
    ------
    InvalidRequestError
        ``limit`` is not an integer from 1 to :data:`MAX_PAGE_SIZE`.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise invalid_field(
            "limit",
            f"必须是 1 到 {MAX_PAGE_SIZE} 之间的整数",
            f"must be an integer from 1 to {MAX_PAGE_SIZE}",
            value=limit,
        )
    return limit


def check_save(session: Session, expected_version: int) -> None:
    """Refuse a save that would not advance the version (a caller bug, not a conflict)."""
    # If the new state kept the old version, a second writer holding the same version would also
    # match the version check and silently overwrite the first one's work.
    if session.version <= expected_version:
        raise ValueError(
            f"session.version ({session.version}) must be greater than "
            f"expected_version ({expected_version})"
        )


def encode_cursor(created_at: float, session_id: str) -> str:
    """An opaque cursor pointing just after the session with this sort key.

    Parameters
    ----------
    created_at, session_id
        The sort key of the last item of the page.

    Returns
    -------
    str
        URL-safe text to hand back as ``cursor`` for the next page.
    """
    # A key, not an offset: sessions created or deleted between pages do not shift the pages.
    # json keeps the float exact (repr round-trips), so ties on created_at are resolved by id.
    raw = json.dumps([created_at, session_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The sort key a cursor made by :func:`encode_cursor` points after.

    Raises
    ------
    InvalidRequestError
        ``code="INVALID_FIELD"``: the cursor was not made by :func:`encode_cursor`.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        # jsontext: a cursor nested 1,000 deep or holding an unpaired surrogate (which no store
        # can encode) is as foreign as any other.
        key = jsontext.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (UnicodeError, binascii.Error, ValueError, AttributeError, TypeError):
        key = None
    if (
        isinstance(key, list)
        and len(key) == 2
        and isinstance(key[0], int | float)
        and not isinstance(key[0], bool)
        and math.isfinite(key[0])
        and isinstance(key[1], str)
    ):
        return float(key[0]), key[1]
    raise invalid_field("cursor", "不是本服务返回的翻页游标", "not a cursor this service returned")


def session_exists(session_id: str) -> SessionExistsError:
    """The error for creating a session whose id the tenant already uses."""
    return SessionExistsError(
        f"会话已存在：{session_id}",
        f"session already exists: {session_id}",
        details={"session_id": session_id},
    )


__all__ = [
    "MAX_PAGE_SIZE",
    "SessionPage",
    "SessionStore",
    "SessionSummary",
    "check_limit",
    "check_save",
    "decode_cursor",
    "encode_cursor",
    "session_exists",
    "session_not_found",
    "stale_version",
    "summarize",
]
