"""The AWS session store: one DynamoDB partition per session, one request per read or write."""

from __future__ import annotations

import math
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from taskchain.errors import StoreError
from taskchain.models import ChainDefinition, Session, StepRecord
from taskchain.store import (
    SessionPage,
    SessionSummary,
    check_limit,
    check_save,
    decode_cursor,
    encode_cursor,
    session_exists,
    session_not_found,
    stale_version,
    summarize,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Sort keys of the items in a session's partition (pk = "<tenant>#<session_id>").
HEADER = "HEADER"  # version, status, summary fields, the GSI keys, {step_id: changed_in}
DEFINITION = "DEF"  # the immutable ChainDefinition, written once by create
STEP_PREFIX = "STEP#"  # one StepRecord with its output, rewritten only when it changed

INDEX_NAME = "by_tenant"  # sparse GSI over the header items: tenant + created
TTL_ATTRIBUTE = "ttl"  # epoch seconds; DynamoDB's TTL removes every item of an expired session

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
COMPRESS_FROM_BYTES = 1024  # shorter JSON is stored as text: zlib would save next to nothing

# Lambda gives a request 30 s: three attempts (the first and two retries) of at most 2 s connect
# + 5 s read, plus the standard mode's backoff, leave time to answer with a 503 instead of being
# killed.
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0

# Transactions that collide with another transaction on the same item are cancelled with
# TransactionConflict (botocore does not retry those); a retry is safe because the version
# condition is checked again, so a writer that lost the race gets STALE_VERSION.
_CONFLICT_ATTEMPTS = 4
# A Query that ran while a transaction was committing may see some of its items and not others.
_READ_ATTEMPTS = 3

# Seconds a caller should wait before retrying, by AWS error code; 5 for anything else.
_RETRY_AFTER: Mapping[str, float] = {
    "ProvisionedThroughputExceededException": 2,
    "ProvisionedThroughputExceeded": 2,  # as a transaction cancellation reason
    "ThrottlingException": 2,
    "ThrottlingError": 2,  # as a transaction cancellation reason
    "RequestLimitExceeded": 2,
    "InternalServerError": 1,
    "ServiceUnavailable": 1,
    "TransactionConflict": 1,
    "TransactionConflictException": 1,
    "TransactionInProgressException": 1,
}
# Errors that mean this module sent a malformed request: a bug to surface, not an outage.
_BUG_CODES = frozenset({"ValidationException", "SerializationException"})

_END_USER_WINDOW = 500  # headers read per Query when listing one end user's sessions
_CREATED_LIMIT = 1e11  # created_at is zero-padded to 11 integer digits in the GSI sort key

Item = dict[str, Any]
# Module-level names: inside DynamoDBStore, ``list`` is the method.
Actions = list[Any]  # TransactItems
Reasons = list[Item]  # CancellationReasons


class DynamoDBStore:
    """Sessions in a DynamoDB table laid out as in ``template.yaml``'s ``SessionsTable``.

    Each session is one partition, ``pk = "<tenant>#<session_id>"``:

    - ``HEADER``: the session's version, status and summary (``list`` reads only these, through
      the sparse ``by_tenant`` index), and ``steps``: each step's ``changed_in``;
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
        pk = _partition(session.tenant, session.session_id)
        header: Item = {
            "TableName": self.table_name,
            "Item": _header_item(pk, session),
            # An expired session's id may be taken again: its leftover items are overwritten or,
            # for steps the new chain lacks, ignored (the header lists the steps) until TTL.
            "ConditionExpression": "attribute_not_exists(#pk) OR #expires_at <= :now",
            "ExpressionAttributeNames": {"#pk": "pk", "#expires_at": "expires_at"},
            "ExpressionAttributeValues": {":now": _number(self._clock())},
        }
        puts = [
            {"Put": {"TableName": self.table_name, "Item": item}}
            for item in (
                _definition_item(pk, session),
                *(_step_item(pk, session, r) for r in session.records.values()),
            )
        ]
        if self._transact([{"Put": header}, *puts]) is not None:
            raise session_exists(session.session_id)

    def get(self, tenant: str, session_id: str) -> Session | None:
        """The live session, or ``None``; see :meth:`taskchain.store.SessionStore.get`.

        One consistent Query reads the whole partition (a second page only past 1 MB).
        """
        pk = _partition(tenant, session_id)
        if not _key_fits(pk):
            return None
        for attempt in range(1, _READ_ATTEMPTS + 1):
            items = self._query_partition(pk)
            header = items.get(HEADER)
            if header is None or _expired(header, self._clock()):
                return None
            session = _assemble(header, items)
            if session is not None:
                return session
            # Torn read: the Query saw part of a save in flight. Its other half lands within
            # milliseconds, so reading again gives a whole session.
            if attempt < _READ_ATTEMPTS:
                time.sleep(_backoff(attempt))
        raise _unavailable("InconsistentRead")

    def save(self, session: Session, *, expected_version: int) -> None:
        """Replace the session if still at ``expected_version``; see ``SessionStore.save``.

        Writes the header and only the step records that changed since ``expected_version``
        (``changed_in > expected_version``; for the usual save of ``expected_version + 1`` those
        are the records with ``changed_in == session.version``), so a 20-step session costs its
        outputs once, not once per save.
        """
        check_save(session, expected_version)
        pk = _partition(session.tenant, session.session_id)
        if not _key_fits(pk):
            raise session_not_found(session.session_id)
        now = self._clock()
        header: Item = {
            "TableName": self.table_name,
            "Item": _header_item(pk, session),
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
                ":expected": _number(expected_version),
                ":now": _number(now),
            },
            # The header as it is now comes back with the cancellation: no second read to tell
            # a stale version (and which one) from a deleted or expired session.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        puts = [
            {"Put": {"TableName": self.table_name, "Item": _step_item(pk, session, record)}}
            for record in session.records.values()
            if record.changed_in > expected_version
        ]
        reasons = self._transact([{"Put": header}, *puts])
        if reasons is None:
            return
        current = reasons[0].get("Item")
        if current is None or _expired(current, now):
            raise session_not_found(session.session_id)
        raise stale_version(expected_version, int(current["version"]["N"]))

    def delete(self, tenant: str, session_id: str) -> bool:
        """Delete the session; see :meth:`taskchain.store.SessionStore.delete`.

        DynamoDB cannot delete a partition, only named items, so a first request reads the
        header (one small consistent GetItem; its ``steps`` name every step item, cheaper than a
        Query that would read, and bill, every output), then one transaction deletes them all.
        """
        pk = _partition(tenant, session_id)
        if not _key_fits(pk):
            return False
        with self._translated():
            found = self._dynamodb().get_item(
                TableName=self.table_name,
                Key=_key(pk, HEADER),
                ConsistentRead=True,
                ProjectionExpression="#steps, #expires_at",
                ExpressionAttributeNames={"#steps": "steps", "#expires_at": "expires_at"},
            )
        header: Item | None = found.get("Item")
        if header is None:
            return False
        live = not _expired(header, self._clock())
        sort_keys = [
            HEADER,
            DEFINITION,
            *(STEP_PREFIX + s for s in header.get("steps", {}).get("M", {})),
        ]
        deletes: list[Any] = [
            {"Delete": {"TableName": self.table_name, "Key": _key(pk, sk)}} for sk in sort_keys
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

        Reads the ``by_tenant`` index, which DynamoDB updates asynchronously: a session saved
        a moment ago may be listed with its previous version.
        """
        check_limit(limit)
        names = {f"#{field}": field for field in _SUMMARY_FIELDS}
        values: Item = {":tenant": {"S": tenant}, ":now": _number(self._clock())}
        condition = "#tenant = :tenant"
        if cursor is not None:
            created_at, session_id = decode_cursor(cursor)
            if created_at < 0:
                return SessionPage(items=[])  # before every possible session
            if created_at < _CREATED_LIMIT:
                condition += " AND #created < :after"
                values[":after"] = {"S": _created_key(created_at, session_id)}
                names["#created"] = "created"
        filters = "(attribute_not_exists(#expires_at) OR #expires_at > :now)"
        if end_user is not None:
            filters += " AND #end_user = :end_user"
            values[":end_user"] = {"S": end_user}
        request: Item = {
            "TableName": self.table_name,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": condition,
            "FilterExpression": filters,
            "ProjectionExpression": ", ".join(f"#{name}" for name in _SUMMARY_FIELDS),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,  # newest first
            # Limit counts items before the filter drops expired or other users' sessions, so
            # pages are read until one more than asked is found (or the index runs out). The
            # filter by end user may drop most of a tenant's headers: read wider windows then
            # (headers are small, so a window of 500 costs few read units and saves round trips).
            "Limit": limit + 1 if end_user is None else _END_USER_WINDOW,
        }
        found: list[Item] = []
        while len(found) <= limit:
            with self._translated():
                page = self._dynamodb().query(**request)
            found.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        items = [_summary(item) for item in found[:limit]]
        # A cursor only when more remain, so the last full page is not followed by an empty one.
        tail = items[-1] if len(found) > limit else None
        return SessionPage(
            items=items,
            next_cursor=encode_cursor(tail.created_at, tail.session_id) if tail else None,
        )

    def ping(self) -> None:
        """Describe the table; raise :class:`~taskchain.errors.StoreError` if that fails."""
        with self._translated():
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
                        config=Config(
                            # total_max_attempts counts the first attempt; botocore's
                            # max_attempts would count only the retries.
                            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
                            connect_timeout=CONNECT_TIMEOUT,
                            read_timeout=READ_TIMEOUT,
                            max_pool_connections=32,
                        ),
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
            with self._translated():
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
                raise _unavailable(failure)
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _try_transact(self, actions: Actions) -> Reasons | None:
        """One TransactWriteItems call: ``None`` if it committed, else why it was cancelled."""
        with self._translated():
            try:
                self._dynamodb().transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                return [dict(r) for r in exc.response.get("CancellationReasons", [])] or [{}]
        return None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn AWS and connection failures into :class:`StoreError`; let bugs through."""
        try:
            yield
        except ClientError as exc:
            code = _code(exc)
            if code in _BUG_CODES:
                raise
            raise _unavailable(code) from exc
        except ParamValidationError:
            raise  # a request this module built wrong
        except BotoCoreError as exc:
            # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, NoCredentialsError...
            raise _unavailable(type(exc).__name__) from exc


# --- items ----------------------------------------------------------------------------------------

_SUMMARY_FIELDS = (
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
_NUMBER_FIELDS = frozenset(
    {"version", "completed", "total", "created_at", "updated_at", "expires_at"}
)


def _partition(tenant: str, session_id: str) -> str:
    """The partition key of a session."""
    # The tenant's own '#' (and '%', the escape) are escaped, so the first '#' always ends the
    # tenant: no (tenant, id) pair can spell the key of another tenant's session.
    return tenant.replace("%", "%25").replace("#", "%23") + "#" + session_id


def _key_fits(pk: str) -> bool:
    """Whether ``pk`` is a legal partition key (at most 2048 bytes): longer ones hold nothing."""
    return len(pk.encode()) <= 2048


def _key(pk: str, sk: str) -> Item:
    """The primary key of one item."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _created_key(created_at: float, session_id: str) -> str:
    """The GSI sort key: string order equals ``(created_at, session_id)`` order."""
    if not 0 <= created_at < _CREATED_LIMIT:
        raise ValueError(f"created_at out of range for the by_tenant index: {created_at!r}")
    # Nanosecond digits tell apart any two distinct epoch-second floats of this era.
    return f"{created_at:021.9f}#{session_id}"


def _number(value: float) -> dict[str, str]:
    """A Number attribute that reads back as the same int or float."""
    if isinstance(value, int):
        return {"N": str(value)}
    # repr is the shortest text that round-trips; Decimal spells it without an exponent.
    return {"N": format(Decimal(repr(value)), "f")}


def _pack(text: str) -> dict[str, Any]:
    """Text as a String attribute, or as zlib-compressed Binary when that is smaller."""
    raw = text.encode()
    if len(raw) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return {"B": packed}
    return {"S": text}


def _unpack(value: Mapping[str, Any]) -> str:
    """The text of an attribute written by :func:`_pack`."""
    if "B" in value:
        return zlib.decompress(value["B"]).decode()
    return str(value["S"])


def _expiry(session: Session) -> Item:
    """The TTL attribute every item of the session carries (nothing if it never expires)."""
    if session.expires_at is None:
        return {}
    # Rounded up: TTL must never remove a session before its expires_at.
    return {TTL_ATTRIBUTE: _number(math.ceil(session.expires_at))}


def _header_item(pk: str, session: Session) -> Item:
    """The HEADER item: the session minus its definition and step records."""
    summary = summarize(session)
    item: Item = {**_key(pk, HEADER), **_expiry(session)}
    for field in _SUMMARY_FIELDS:
        value = getattr(summary, field)
        if value is not None:
            item[field] = _number(value) if field in _NUMBER_FIELDS else {"S": str(value)}
    item["created"] = {"S": _created_key(session.created_at, session.session_id)}
    item["steps"] = {"M": {sid: _number(r.changed_in) for sid, r in session.records.items()}}
    return item


def _definition_item(pk: str, session: Session) -> Item:
    """The DEF item, tagged with the session's ``created_at``."""
    return {
        **_key(pk, DEFINITION),
        "born": _number(session.created_at),
        "body": _pack(session.definition.model_dump_json()),
        **_expiry(session),
    }


def _step_item(pk: str, session: Session, record: StepRecord) -> Item:
    """A STEP item, tagged with the session's ``created_at``."""
    # The tag tells this session's items from those of an expired one that had the same id.
    return {
        **_key(pk, STEP_PREFIX + record.step_id),
        "born": _number(session.created_at),
        "body": _pack(record.model_dump_json()),
        **_expiry(session),
    }


def _expired(header: Mapping[str, Any], now: float) -> bool:
    """Whether a header item's session has expired at ``now``."""
    expires = header.get("expires_at")
    return expires is not None and float(expires["N"]) <= now


def _assemble(header: Item, items: Mapping[str, Item]) -> Session | None:
    """The session from its items, or ``None`` if they come from different saves (torn read)."""
    born = float(header["created_at"]["N"])
    changed = {sid: int(v["N"]) for sid, v in header["steps"]["M"].items()}
    definition_item = items.get(DEFINITION)
    if definition_item is None or float(definition_item["born"]["N"]) != born:
        return None
    definition = ChainDefinition.model_validate_json(_unpack(definition_item["body"]))
    order = [s.id for s in definition.steps if s.id in changed]
    records: dict[str, StepRecord] = {}
    for sid in order + [sid for sid in changed if sid not in set(order)]:
        item = items.get(STEP_PREFIX + sid)
        if item is None or float(item["born"]["N"]) != born:
            return None
        record = StepRecord.model_validate_json(_unpack(item["body"]))
        if record.changed_in != changed[sid]:
            return None
        records[sid] = record
    fields = _summary_fields(header)
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


def _summary_fields(header: Mapping[str, Any]) -> dict[str, Any]:
    """The summary fields present in a header item, as Python values."""
    out: dict[str, Any] = {}
    for field in _SUMMARY_FIELDS:
        value = header.get(field)
        if value is None:
            continue
        if field in _NUMBER_FIELDS:
            text = value["N"]
            out[field] = int(text) if field in ("version", "completed", "total") else float(text)
        else:
            out[field] = value["S"]
    return out


def _summary(header: Mapping[str, Any]) -> SessionSummary:
    """A listing's summary of a header item."""
    fields = _summary_fields(header)
    fields.setdefault("end_user", None)
    fields.setdefault("expires_at", None)
    return SessionSummary.model_validate(fields)


def item_size(item: Mapping[str, Any]) -> int:
    """The size DynamoDB limits (400 KB) and bills an item by, in bytes.

    Attribute names plus values: text as UTF-8, binary as is, a number one byte per two
    significant digits plus one, a map or list 3 bytes plus 1 per element.

    Parameters
    ----------
    item
        The item in DynamoDB's attribute-value form (``{"name": {"S": "..."}}``).
    """
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in data)
    return 1  # BOOL, NULL


# --- errors ---------------------------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt``: jittered, so racing writers spread out."""
    return random.uniform(0, 0.05 * 2**attempt)


def _unavailable(reason: str) -> StoreError:
    """The StoreError for a DynamoDB failure, naming the AWS error code but not its text."""
    return StoreError(
        "会话存储暂时不可用（DynamoDB），请稍后重试",
        "the session store (DynamoDB) is unavailable; retry later",
        details={
            "backend": "dynamodb",
            "reason": reason,
            "retry_after": _RETRY_AFTER.get(reason, 5),
        },
    )


__all__ = ["INDEX_NAME", "TTL_ATTRIBUTE", "DynamoDBStore", "item_size"]
