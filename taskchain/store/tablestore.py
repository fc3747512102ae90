"""The Aliyun session store: one Tablestore row per session, one conditional write per save."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from taskchain.errors import StoreError
from taskchain.models import Session
from taskchain.store import (
    SessionPage,
    SessionSummary,
    check_limit,
    check_save,
    encode_cursor,
    session_exists,
    session_not_found,
    stale_version,
)
from taskchain.store import tablestore_layout as layout
from taskchain.store.tablestore_client import (
    Clients,
    column_condition,
    is_condition_failure,
    translated,
    unavailable,
)

if TYPE_CHECKING:
    from tablestore import OTSClient

# The tablestore SDK is imported by the methods that use it, on the first request that reaches
# the store: importing it (aiohttp, numpy, protobuf...) takes longer than the rest of a cold start.

# Module-level name: inside TablestoreStore, ``list`` is the method.
Summaries = list[SessionSummary]

_MAX_BATCH_GET = 100  # rows per BatchGetRow
_LISTING_COLUMNS = ["created_at", "session_id"]


class TablestoreStore:
    """Sessions in a Tablestore table with primary key ``(pk STRING, sk STRING)``.

    - One row per session, ``pk = "S<tenant>#<session_id>"``, ``sk = "session"``: the summary
      fields (version, status, ...), ``steps`` (each step's ``changed_in``), ``definition``
      (written once by :meth:`create`), and one column per step record. :meth:`save` is one
      UpdateRow conditional on ``version``: it writes the fields a save changes and only the
      records that changed, so a submit costs its own output, never the whole session again.
      One row is written and read atomically, so no reader sees half a save.
    - Listing rows, ``pk = "T<tenant>"`` (and ``"U<tenant>#<end user>"`` for sessions with an
      end user), ``sk`` sorted like ``(created_at, session_id)``: written once by create,
      deleted with the session. A listing reads them newest first and takes each summary from
      the session row itself, so it is as fresh as :meth:`get`.

    Text over 1 KB is zlib-compressed into a BINARY column: the largest legal session (20
    outputs of 20,000 incompressible characters, 1.3 MB of JSON) is written as ~0.96 MB in 34
    columns of at most ~51 KB, within Tablestore's 2 MB per column, 4 MB and 1024 columns per
    write.

    Expiry is filtered on every read, exactly at ``expires_at``. The table's TTL only frees
    storage later: it removes each *cell* a TTL after it was written, so it must be at least the
    sessions' lifetime (see :func:`~taskchain.store.tablestore_layout.table_ttl_seconds`), or
    ``-1``; sessions that never expire need ``-1``.

    Parameters
    ----------
    table_name
        The sessions table.
    client
        A ``tablestore.OTSClient``; one is created on first use when omitted.
    endpoint, instance_name
        Where the created client connects (``https://<instance>.<region>.ots.aliyuncs.com``).
    access_key_id, access_key_secret, security_token
        Its credentials; by default ``ALIBABA_CLOUD_ACCESS_KEY_ID``, ``..._SECRET`` and
        ``ALIBABA_CLOUD_SECURITY_TOKEN``, which Function Compute sets from the function's role.
    clock
        Seconds since the epoch; decides which sessions have expired.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: OTSClient | None = None,
        endpoint: str | None = None,
        instance_name: str | None = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        security_token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._clients = Clients(
            client, endpoint, instance_name, (access_key_id, access_key_secret, security_token)
        )
        self._clock = clock

    # --- SessionStore ---------------------------------------------------------------------------

    def create(self, session: Session) -> None:
        """Store a new session; see :meth:`taskchain.store.SessionStore.create`.

        Tablestore writes several rows atomically only in a local transaction, which spans one
        partition key value and must be enabled on the table by a ticket (help.aliyun.com/zh/
        tablestore "局部事务"); BatchWriteRow is not atomic. The listing rows live in the tenant's
        partition, not the session's, so they go first and the session row last, conditionally:
        it is the commit point. A listing row whose session row never landed (or belongs to a
        later session with the same id) is skipped by :meth:`list`, which checks ``created_at``
        against the session row.
        """
        from tablestore import ComparatorType, Condition, PutRowItem, Row
        from tablestore import RowExistenceExpectation as Expect

        key = layout.session_key(session.tenant, session.session_id)
        if key is None:
            raise ValueError(f"tenant and session id are longer than {layout.MAX_KEY_BYTES} bytes")
        listing = layout.listing_columns(session)
        self._batch_write(
            [
                PutRowItem(Row(k, listing), Condition(Expect.IGNORE))
                for k in layout.listing_keys(session)
            ]
        )
        row = Row(key, layout.session_columns(session))
        new = Condition(Expect.EXPECT_NOT_EXIST)
        if self._conditional(lambda ots, c: ots.put_row(self.table_name, row, c), new):
            return
        # The id is taken. An expired session's row may be replaced: PutRow drops every old
        # column, and its listing rows no longer match the new created_at.
        expired = Condition(
            Expect.EXPECT_EXIST,
            column_condition("expires_at", float(self._clock()), ComparatorType.LESS_EQUAL),
        )
        if not self._conditional(lambda ots, c: ots.put_row(self.table_name, row, c), expired):
            raise session_exists(session.session_id)

    def get(self, tenant: str, session_id: str) -> Session | None:
        """The live session, or ``None``; see :meth:`taskchain.store.SessionStore.get`."""
        key = layout.session_key(tenant, session_id)
        if key is None:
            return None
        columns = self._get_row(key)
        if columns is None or layout.expired(columns, self._clock()):
            return None
        return layout.assemble(columns)

    def save(self, session: Session, *, expected_version: int) -> None:
        """Replace the session if still at ``expected_version``; see ``SessionStore.save``.

        One UpdateRow writes the fields a save changes, the step list, and only the records with
        ``changed_in > expected_version``.
        """
        from tablestore import (
            ComparatorType,
            CompositeColumnCondition,
            Condition,
            LogicalOperator,
            Row,
        )
        from tablestore import RowExistenceExpectation as Expect

        check_save(session, expected_version)
        key = layout.session_key(session.tenant, session.session_id)
        if key is None:
            raise session_not_found(session.session_id)
        now = self._clock()
        # Why the version condition prevents lost updates:
        #   t0  A reads version 3                B reads version 3
        #   t1  A saves 4 if version = 3: ok
        #   t2                                   B saves 4 if version = 3: fails (it is 4)
        #                                        -> STALE_VERSION, B reloads and retries
        # Tablestore checks a row's condition and applies the update to that row as one step
        # (its documented optimistic lock, help.aliyun.com/zh/tablestore "条件更新"), so nothing
        # slips in between B's check and B's write, and a failed update writes no column at
        # all. A never-expiring session has no expires_at: pass_if_missing.
        live = CompositeColumnCondition(LogicalOperator.AND)
        live.add_sub_condition(column_condition("version", expected_version, ComparatorType.EQUAL))
        live.add_sub_condition(
            column_condition(
                "expires_at", float(now), ComparatorType.GREATER_THAN, pass_if_missing=True
            )
        )
        update = Row(key, {"put": layout.save_columns(session, expected_version)})
        condition = Condition(Expect.EXPECT_EXIST, live)
        if self._conditional(lambda ots, c: ots.update_row(self.table_name, update, c), condition):
            return
        # UpdateRow cannot return the row that failed the check: read what is there now, to
        # tell a stale version (and which one) from a deleted or expired session.
        current = self._get_row(key, ["version", "expires_at"])
        if current is None or "version" not in current or layout.expired(current, now):
            raise session_not_found(session.session_id)
        raise stale_version(expected_version, int(current["version"]))

    def delete(self, tenant: str, session_id: str) -> bool:
        """Delete the session; see :meth:`taskchain.store.SessionStore.delete`.

        Reads the session's identity, deletes its row on condition that it is still the same
        session (the commit point), then its listing rows.
        """
        from tablestore import ComparatorType, Condition, DeleteRowItem, Row
        from tablestore import RowExistenceExpectation as Expect

        key = layout.session_key(tenant, session_id)
        if key is None:
            return False
        columns = self._get_row(key, [*layout.SUMMARY_FIELDS])
        found = layout.summary(columns) if columns is not None else None
        if found is None:
            return False
        same = Condition(
            Expect.EXPECT_EXIST,
            column_condition("created_at", found.created_at, ComparatorType.EQUAL),
        )
        # A concurrent delete got there first: the session was not ours to report.
        if not self._conditional(lambda ots, c: ots.delete_row(self.table_name, Row(key), c), same):
            return False
        # The session is gone whatever happens next: listing rows left behind are skipped by
        # list (no session row) and freed by the TTL, so a failure here is not reported.
        with contextlib.suppress(StoreError):
            self._batch_write(
                [
                    DeleteRowItem(Row(k), Condition(Expect.IGNORE))
                    for k in layout.listing_keys(found)
                ]
            )
        # Expired sessions are deleted too (freeing their storage now), but reported as gone.
        return found.expires_at is None or found.expires_at > self._clock()

    def list(
        self,
        tenant: str,
        *,
        end_user: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> SessionPage:
        """A page of live sessions, newest first; see :meth:`taskchain.store.SessionStore.list`.

        Reads the listing rows backwards (GetRange) and the summaries of the sessions they name
        (BatchGetRow of the summary columns only, never an output), until one more than
        ``limit`` live sessions are found or the rows run out.
        """
        from tablestore import INF_MAX, INF_MIN, Direction

        check_limit(limit)
        start, any_left = layout.listing_start(cursor)
        if end_user is None:
            partition = layout.tenant_partition(tenant)
        else:
            partition = layout.user_partition(tenant, end_user)
        if not any_left or not layout.key_fits(partition):
            return SessionPage(items=[])
        now = self._clock()
        begin: Any = [("pk", partition), ("sk", INF_MAX if start is None else start)]
        end = [("pk", partition), ("sk", INF_MIN)]
        found: Summaries = []
        while len(found) <= limit:
            with translated():
                _, next_start, rows, _ = self._ots().get_range(
                    self.table_name,
                    Direction.BACKWARD,
                    begin,
                    end,
                    columns_to_get=_LISTING_COLUMNS,
                    limit=limit + 2 - len(found),  # one more than a page, and the cursor's row
                    max_version=1,
                )
            candidates = []
            for row in rows:
                if row.primary_key[1][1] == start:
                    continue  # the last item of the previous page
                columns = layout.columns_of(row.attribute_columns)
                candidates.append((float(columns["created_at"]), str(columns["session_id"])))
            found += self._live_summaries(tenant, end_user, candidates, now)
            if not next_start:
                break
            begin = next_start
        items = found[:limit]
        # A cursor only when more remain, so the last full page is not followed by an empty one.
        tail = items[-1] if len(found) > limit else None
        return SessionPage(
            items=items,
            next_cursor=encode_cursor(tail.created_at, tail.session_id) if tail else None,
        )

    def ping(self) -> None:
        """Read a row that never exists; raise :class:`~taskchain.errors.StoreError` if that fails.

        A GetRow checks the endpoint, the credentials and the read permission on the table,
        without DescribeTable's separate permission.
        """
        self._get_row(layout.PING_KEY)

    # --- internals ------------------------------------------------------------------------------

    def _ots(self) -> OTSClient:
        """The client for the role's current keys (see :class:`Clients`)."""
        return self._clients.get()

    def _get_row(self, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The row's columns by name (all, or ``columns``), or ``None`` if it does not exist."""
        wanted = list(columns) if columns is not None else None
        with translated():
            _, row, _ = self._ots().get_row(self.table_name, key, wanted, max_version=1)
        if row is None:
            return None
        return layout.columns_of(row.attribute_columns)

    def _conditional(self, write: Callable[[OTSClient, Any], object], condition: Any) -> bool:
        """One conditional PutRow, UpdateRow or DeleteRow: ``False`` if its condition failed."""
        from tablestore import OTSServiceError

        with translated():
            try:
                write(self._ots(), condition)
            except OTSServiceError as exc:
                if not is_condition_failure(exc):
                    raise
                return False
        return True

    def _batch_write(self, items: Sequence[Any]) -> None:
        """One BatchWriteRow of unconditional listing rows; StoreError if any row failed.

        BatchWriteRow is not atomic: each row succeeds or fails on its own.
        """
        if not items:
            return
        from tablestore import BatchWriteRowRequest, TableInBatchWriteRowItem

        request = BatchWriteRowRequest()
        request.add(TableInBatchWriteRowItem(self.table_name, list(items)))
        with translated():
            response = self._ots().batch_write_row(request)
        failed = [
            *response.get_failed_of_put(),
            *response.get_failed_of_delete(),
        ]
        if failed:
            raise unavailable(str(failed[0].error_code))

    def _live_summaries(
        self,
        tenant: str,
        end_user: str | None,
        candidates: Sequence[tuple[float, str]],
        now: float,
    ) -> Summaries:
        """The summaries of the live sessions that listing rows name, in their order.

        A listing row counts only if its session row exists, was created at the same instant
        (not an earlier session with the same id), has not expired, and has that end user.
        """
        from tablestore import BatchGetRowRequest, TableInBatchGetRowItem

        keys = {sid: layout.session_key(tenant, sid) for _, sid in candidates}  # no repeats:
        ids = [sid for sid, key in keys.items() if key is not None]  # BatchGetRow refuses them
        summaries: dict[str, SessionSummary] = {}
        for i in range(0, len(ids), _MAX_BATCH_GET):
            chunk = ids[i : i + _MAX_BATCH_GET]
            request = BatchGetRowRequest()
            request.add(
                TableInBatchGetRowItem(
                    self.table_name,
                    [keys[sid] for sid in chunk],
                    columns_to_get=list(layout.SUMMARY_FIELDS),
                    max_version=1,
                )
            )
            with translated():
                response = self._ots().batch_get_row(request)
            for sid, item in zip(
                chunk, response.get_result_by_table(self.table_name) or [], strict=True
            ):
                if not item.is_ok:
                    raise unavailable(str(item.error_code))
                if item.row is not None:
                    summary = layout.summary(layout.columns_of(item.row.attribute_columns))
                    if summary is not None:
                        summaries[sid] = summary
        live: Summaries = []
        for created_at, sid in candidates:
            summary = summaries.get(sid)
            if (
                summary is not None
                and summary.created_at == created_at
                and (summary.expires_at is None or summary.expires_at > now)
                and (end_user is None or summary.end_user == end_user)
            ):
                live.append(summary)
        return live


__all__ = ["TablestoreStore"]
