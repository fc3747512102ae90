"""The AWS session store: one DynamoDB partition per session, one request per read or write."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from taskchain.models import Session
from taskchain.store import (
    SessionPage,
    check_limit,
    check_save,
    encode_cursor,
    session_exists,
    session_not_found,
    stale_version,
)
from taskchain.store import dynamodb_layout as layout
from taskchain.store.aws_config import (  # re-exported: callers and tests read them here too
    CONNECT_TIMEOUT,
    MAX_ATTEMPTS,
    READ_TIMEOUT,
    call_budget,
    client_config,
)
from taskchain.store.dynamodb_errors import code_of, translated, unavailable
from taskchain.store.dynamodb_layout import (  # public names re-exported for callers
    INDEX_NAME,
    MAX_ITEM_BYTES,
    TTL_ATTRIBUTE,
    USER_INDEX_NAME,
    Item,
    item_size,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Transactions that collide with another transaction on the same item are cancelled with
# TransactionConflict (botocore does not retry those); a retry is safe because the version
# condition is checked again, so a writer that lost the race gets STALE_VERSION.
_CONFLICT_ATTEMPTS = 4
# A Query that ran while a transaction was committing may see some of its items and not others.
_READ_ATTEMPTS = 3

# Module-level names: inside DynamoDBStore, ``list`` is the method.
Actions = list[Any]  # TransactItems
Reasons = list[Item]  # CancellationReasons


class DynamoDBStore:
    """Sessions in a DynamoDB table laid out as in ``template.yaml``'s ``SessionsTable``.

    Each session is one partition, ``pk = "<tenant>#<session_id>"``:

    - ``HEADER``: the session's version, status and summary (``list`` reads only these, through
      the sparse GSIs ``by_tenant``, keyed by ``tenant``, and ``by_user``, keyed by
      ``tenant_user`` and present only for sessions with an end user; both sorted by
      ``created``), and ``steps``: each step's ``changed_in``;
    - ``DEF``: the chain definition, written once by :meth:`create`;
    - ``STEP#<id>``: one step record with its output, written only when it changed.

    Text over 1 KB is zlib-compressed into a Binary attribute. Every item carries the session's
    ``ttl``, so DynamoDB's TTL removes a whole expired session; ``expires_at`` is fixed when the
    session starts (the engine never moves it), so the items written later agree on it.

    Parameters
    ----------
    table_name
        The sessions table.
    client
        A boto3 DynamoDB client; one is created on first use when omitted.
    endpoint_url, region_name
        Where the created client connects (DynamoDB Local, another region).
    clock
        Seconds since the epoch; decides which sessions have expired.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._clock = clock
        self._lock = threading.Lock()

    # --- SessionStore ---------------------------------------------------------------------------

    def create(self, session: Session) -> None:
        """Store a new session; see :meth:`taskchain.store.SessionStore.create`."""
        pk = layout.partition(session.tenant, session.session_id)
        header: Item = {
            "TableName": self.table_name,
            "Item": layout.header_item(pk, session),
            # An expired session's id may be taken again: its leftover items are overwritten or,
            # for steps the new chain lacks, ignored (the header lists the steps) until TTL.
            "ConditionExpression": "attribute_not_exists(#pk) OR #expires_at <= :now",
            "ExpressionAttributeNames": {"#pk": "pk", "#expires_at": "expires_at"},
            "ExpressionAttributeValues": {":now": layout.number(self._clock())},
        }
        puts = [
            {"Put": {"TableName": self.table_name, "Item": item}}
            for item in (
                layout.definition_item(pk, session),
                *(layout.step_item(pk, session, r) for r in session.records.values()),
            )
        ]
        if self._transact([{"Put": header}, *puts]) is not None:
            raise session_exists(session.session_id)

    def get(self, tenant: str, session_id: str) -> Session | None:
        """The live session, or ``None``; see :meth:`taskchain.store.SessionStore.get`.

        One consistent Query reads the whole partition (a second page only past 1 MB).
        """
        pk = layout.partition(tenant, session_id)
        if not layout.key_fits(pk):
            return None
        for attempt in range(1, _READ_ATTEMPTS + 1):
            items = self._query_partition(pk)
            header = items.get(layout.HEADER)
            if header is None or layout.expired(header, self._clock()):
                return None
            session = layout.assemble(header, items)
            if session is not None:
                return session
            # Torn read: the Query saw part of a save in flight. Its other half lands within
            # milliseconds, so reading again gives a whole session.
            if attempt < _READ_ATTEMPTS:
                time.sleep(_backoff(attempt))
        raise unavailable("InconsistentRead")

    def save(self, session: Session, *, expected_version: int) -> None:
        """Replace the session if still at ``expected_version``; see ``SessionStore.save``.

        Writes the header and only the step records that changed since ``expected_version``
        (``changed_in > expected_version``; for the usual save of ``expected_version + 1`` those
        are the records with ``changed_in == session.version``), so a 20-step session costs its
        outputs once, not once per save.
        """
        check_save(session, expected_version)
        pk = layout.partition(session.tenant, session.session_id)
        if not layout.key_fits(pk):
            raise session_not_found(session.session_id)
        now = self._clock()
        header: Item = {
            "TableName": self.table_name,
            "Item": layout.header_item(pk, session),
            # Why the version condition prevents lost updates:
            #   t0  A reads version 3                B reads version 3
            #   t1  A saves 4 if version = 3: ok
            #   t2                                   B saves 4 if version = 3: fails (it is 4)
            #                                        -> STALE_VERSION, B reloads and retries
            # Without it B's puts would silently replace the step A just completed. DynamoDB
            # checks the condition and applies every put of the transaction as one atomic step,
            # so no writer can slip in between B's check and B's write, and a cancelled
            # transaction writes none of its step items.
            "ConditionExpression": (
                "#version = :expected AND (attribute_not_exists(#expires_at) OR #expires_at > :now)"
            ),
            "ExpressionAttributeNames": {"#version": "version", "#expires_at": "expires_at"},
            "ExpressionAttributeValues": {
                ":expected": layout.number(expected_version),
                ":now": layout.number(now),
            },
            # The header as it is now comes back with the cancellation: no second read to tell
            # a stale version (and which one) from a deleted or expired session.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        puts = [
            {"Put": {"TableName": self.table_name, "Item": layout.step_item(pk, session, record)}}
            for record in session.records.values()
            if record.changed_in > expected_version
        ]
        reasons = self._transact([{"Put": header}, *puts])
        if reasons is None:
            return
        current = reasons[0].get("Item")
        if current is None or layout.expired(current, now):
            raise session_not_found(session.session_id)
        raise stale_version(expected_version, int(current["version"]["N"]))

    def delete(self, tenant: str, session_id: str) -> bool:
        """Delete the session; see :meth:`taskchain.store.SessionStore.delete`.

        DynamoDB cannot delete a partition, only named items, so a first request reads the
        header (one small consistent GetItem; its ``steps`` name every step item, cheaper than a
        Query that would read, and bill, every output), then one transaction deletes them all.
        """
        pk = layout.partition(tenant, session_id)
        if not layout.key_fits(pk):
            return False
        with translated():
            found = self._dynamodb().get_item(
                TableName=self.table_name,
                Key=layout.key(pk, layout.HEADER),
                ConsistentRead=True,
                ProjectionExpression="#steps, #expires_at",
                ExpressionAttributeNames={"#steps": "steps", "#expires_at": "expires_at"},
            )
        header: Item | None = found.get("Item")
        if header is None:
            return False
        live = not layout.expired(header, self._clock())
        deletes: list[Any] = [
            {"Delete": {"TableName": self.table_name, "Key": layout.key(pk, sk)}}
            for sk in layout.sort_keys(header)
        ]
        # Expired sessions are deleted too (freeing their storage now), but reported as gone.
        deletes[0]["Delete"].update(
            ConditionExpression="attribute_exists(#pk)", ExpressionAttributeNames={"#pk": "pk"}
        )
        # A concurrent delete got there first: the session was not ours to report.
        return self._transact(deletes) is None and live

    def list(
        self,
        tenant: str,
        *,
        end_user: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> SessionPage:
        """A page of live sessions, newest first; see :meth:`taskchain.store.SessionStore.list`.

        Reads the ``by_tenant`` index, or ``by_user`` for one end user's sessions, so a page
        costs only the headers it shows (and expired ones not yet removed). DynamoDB updates
        both asynchronously: a session saved a moment ago may be listed with its previous
        version.
        """
        check_limit(limit)
        query = layout.listing_query(tenant, end_user, cursor, limit=limit, now=self._clock())
        if query is None:
            return SessionPage(items=[])
        request: Item = {"TableName": self.table_name, **query}
        found: list[Item] = []
        while len(found) <= limit:
            with translated():
                page = self._dynamodb().query(**request)
            found.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        items = [layout.summary(item) for item in found[:limit]]
        # A cursor only when more remain, so the last full page is not followed by an empty one.
        tail = items[-1] if len(found) > limit else None
        return SessionPage(
            items=items,
            next_cursor=encode_cursor(tail.created_at, tail.session_id) if tail else None,
        )

    def ping(self) -> None:
        """Describe the table; raise :class:`~taskchain.errors.StoreError` if that fails."""
        with translated():
            self._dynamodb().describe_table(TableName=self.table_name)

    # --- internals ------------------------------------------------------------------------------

    def _dynamodb(self) -> DynamoDBClient:
        """The client, created on first use (boto3 is imported only then)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3

                    # A session of our own: boto3's default session is not thread-safe.
                    self._client = boto3.session.Session().client(
                        "dynamodb",
                        endpoint_url=self._endpoint_url,
                        region_name=self._region_name,
                        config=client_config(),
                    )
        return self._client

    def _query_partition(self, pk: str) -> dict[str, Item]:
        """Every item of the partition ``pk`` by sort key, read consistently."""
        request: Item = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": "pk"},
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        items: dict[str, Item] = {}
        while True:
            with translated():
                page = self._dynamodb().query(**request)
            for item in page.get("Items", []):
                items[item["sk"]["S"]] = dict(item)
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            request["ExclusiveStartKey"] = last

    def _transact(self, actions: Actions) -> Reasons | None:
        """Run one TransactWriteItems: ``None`` once done, the cancellation reasons if its
        first action's condition failed; :class:`StoreError` for anything else.
        """
        # botocore gives the call a ClientRequestToken and keeps it across its own retries, so
        # a retry after a timeout does not apply the transaction twice.
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            reasons = self._try_transact(actions)
            if reasons is None:
                return None
            codes = [str(r.get("Code") or "None") for r in reasons]
            if codes[:1] == ["ConditionalCheckFailed"]:
                return reasons
            failure = next((c for c in codes if c != "None"), "TransactionCanceled")
            if failure != "TransactionConflict" or attempt == _CONFLICT_ATTEMPTS:
                raise unavailable(failure)
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _try_transact(self, actions: Actions) -> Reasons | None:
        """One TransactWriteItems call: ``None`` if it committed, else why it was cancelled."""
        from botocore.exceptions import ClientError

        with translated():
            try:
                self._dynamodb().transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if code_of(exc) != "TransactionCanceledException":
                    raise
                return [dict(r) for r in exc.response.get("CancellationReasons", [])] or [{}]
        return None


def _backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt``: jittered, so racing writers spread out."""
    return random.uniform(0, 0.05 * 2**attempt)


__all__ = [
    "CONNECT_TIMEOUT",
    "INDEX_NAME",
    "MAX_ATTEMPTS",
    "MAX_ITEM_BYTES",
    "READ_TIMEOUT",
    "TTL_ATTRIBUTE",
    "USER_INDEX_NAME",
    "DynamoDBStore",
    "call_budget",
    "client_config",
    "item_size",
]
