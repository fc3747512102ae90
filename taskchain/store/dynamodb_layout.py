"""How sessions are laid out in DynamoDB: keys, items and back, index queries; no client calls."""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from taskchain.models import ChainDefinition, Session, StepRecord
from taskchain.store import SessionSummary, decode_cursor, session_from_parts, summarize

# Sort keys of the items in a session's partition (pk = "<tenant>#<session_id>").
HEADER = "HEADER"  # version, status, summary fields, the GSI keys, {step_id: changed_in}
DEFINITION = "DEF"  # the immutable ChainDefinition, written once by create
STEP_PREFIX = "STEP#"  # one StepRecord with its output, rewritten only when it changed

# Sparse GSIs over the header items, both sorted by "created" (newest first when read backwards).
INDEX_NAME = "by_tenant"  # partition "tenant": every session of a tenant
USER_INDEX_NAME = "by_user"  # partition "tenant_user": the sessions of one end user of a tenant
TTL_ATTRIBUTE = "ttl"  # epoch seconds; DynamoDB's TTL removes every item of an expired session

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
MAX_KEY_BYTES = 2048  # DynamoDB's limit on a partition key, of the table or of an index
COMPRESS_FROM_BYTES = 1024  # shorter JSON is stored as text: zlib would save next to nothing
CREATED_LIMIT = 1e11  # created_at is zero-padded to 11 integer digits in the GSI sort key
AFTER_EVERY_KEY = ":"  # sorts after every GSI sort key: those start with a digit

Item = dict[str, Any]

SUMMARY_FIELDS = (
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
_INT_FIELDS = frozenset({"version", "completed", "total"})

# --- keys -----------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` without '#': '%' and '#' are percent-escaped, so '#' can join key parts."""
    return text.replace("%", "%25").replace("#", "%23")


def partition(tenant: str, session_id: str) -> str:
    """The partition key of a session."""
    # The tenant is escaped, so the first '#' always ends it: no (tenant, id) pair can spell the
    # key of another tenant's session.
    return escape(tenant) + "#" + session_id


def tenant_user(tenant: str, end_user: str) -> str:
    """The ``by_user`` partition key of one end user's sessions."""
    key = escape(tenant) + "#" + escape(end_user)
    if not key_fits(key):
        # Too long for an index key: the user is named by a digest instead. An escaped name
        # holds no '#', so "<tenant>##<digest>" cannot spell any "<tenant>#<user>".
        key = escape(tenant) + "##" + hashlib.sha256(end_user.encode()).hexdigest()
    return key


def key_fits(key: str) -> bool:
    """Whether ``key`` is a legal partition key: longer ones hold nothing."""
    return len(key.encode()) <= MAX_KEY_BYTES


def key(pk: str, sk: str) -> Item:
    """The primary key of one item."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def created_key(created_at: float, session_id: str) -> str:
    """The GSI sort key: string order equals ``(created_at, session_id)`` order."""
    if not 0 <= created_at < CREATED_LIMIT:
        raise ValueError(f"created_at out of range for the GSI sort key: {created_at!r}")
    # Nanosecond digits tell apart any two distinct epoch-second floats of this era.
    return f"{created_at:021.9f}#{session_id}"


def _created_before(cursor: str | None) -> str | None:
    """The ``created`` key every session after ``cursor`` sorts below; ``None`` if none can."""
    if cursor is None:
        return AFTER_EVERY_KEY
    created_at, session_id = decode_cursor(cursor)
    if created_at < 0:
        return None  # before every possible session
    if created_at >= CREATED_LIMIT:
        return AFTER_EVERY_KEY
    return created_key(created_at, session_id)


def listing_query(
    tenant: str, end_user: str | None, cursor: str | None, *, limit: int, now: float
) -> Item | None:
    """The Query (less ``TableName``) that lists the live sessions after ``cursor``, newest first.

    It reads ``by_tenant`` for a tenant's sessions, ``by_user`` for one end user's; ``None``
    when the listing is empty whatever the table holds.

    Raises
    ------
    InvalidRequestError
        ``code="INVALID_FIELD"``: a cursor this service did not make.
    """
    before = _created_before(cursor)
    if end_user is None:
        index, attribute, value = INDEX_NAME, "tenant", tenant
    else:
        index, attribute, value = USER_INDEX_NAME, "tenant_user", tenant_user(tenant, end_user)
    if before is None or not key_fits(value):
        return None
    return {
        "IndexName": index,
        "KeyConditionExpression": "#partition = :partition AND #created < :before",
        "FilterExpression": "attribute_not_exists(#expires_at) OR #expires_at > :now",
        "ProjectionExpression": ", ".join(f"#{name}" for name in SUMMARY_FIELDS),
        "ExpressionAttributeNames": {
            "#partition": attribute,
            "#created": "created",
            **{f"#{name}": name for name in SUMMARY_FIELDS},
        },
        "ExpressionAttributeValues": {
            ":partition": {"S": value},
            ":before": {"S": before},
            ":now": number(now),
        },
        "ScanIndexForward": False,  # newest first
        # Limit counts the items read before the filter drops expired sessions, so the caller
        # reads pages until one more than asked is kept (or the index runs out).
        "Limit": limit + 1,
    }


# --- attribute values -----------------------------------------------------------------------------


def number(value: float) -> dict[str, str]:
    """A Number attribute that reads back as the same int or float."""
    if isinstance(value, int):
        return {"N": str(value)}
    # repr is the shortest text that round-trips; Decimal spells it without an exponent.
    return {"N": format(Decimal(repr(value)), "f")}


def pack(text: str) -> dict[str, Any]:
    """Text as a String attribute, or as zlib-compressed Binary when that is smaller."""
    raw = text.encode()
    if len(raw) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return {"B": packed}
    return {"S": text}


def unpack(value: Mapping[str, Any]) -> str:
    """The text of an attribute written by :func:`pack`."""
    if "B" in value:
        return zlib.decompress(value["B"]).decode()
    return str(value["S"])


# --- items of a session ---------------------------------------------------------------------------


def _expiry(session: Session) -> Item:
    """The TTL attribute every item of the session carries (nothing if it never expires)."""
    if session.expires_at is None:
        return {}
    # Rounded up: TTL must never remove a session before its expires_at.
    return {TTL_ATTRIBUTE: number(math.ceil(session.expires_at))}


def header_item(pk: str, session: Session) -> Item:
    """The HEADER item: the session minus its definition and step records, with the GSI keys."""
    summary = summarize(session)
    item: Item = {**key(pk, HEADER), **_expiry(session)}
    for field in SUMMARY_FIELDS:
        value = getattr(summary, field)
        if value is not None:
            item[field] = number(value) if field in _NUMBER_FIELDS else {"S": str(value)}
    item["created"] = {"S": created_key(session.created_at, session.session_id)}
    if session.end_user is not None:
        by_user = tenant_user(session.tenant, session.end_user)
        if key_fits(by_user):  # only a tenant name near 2 KB leaves no room for it
            item["tenant_user"] = {"S": by_user}
    item["steps"] = {"M": {sid: number(r.changed_in) for sid, r in session.records.items()}}
    return item


def definition_item(pk: str, session: Session) -> Item:
    """The DEF item, tagged with the session's ``created_at``."""
    return {
        **key(pk, DEFINITION),
        "born": number(session.created_at),
        "body": pack(session.definition.model_dump_json()),
        **_expiry(session),
    }


def step_item(pk: str, session: Session, record: StepRecord) -> Item:
    """A STEP item, tagged with the session's ``created_at``."""
    # The tag tells this session's items from those of an expired one that had the same id.
    return {
        **key(pk, STEP_PREFIX + record.step_id),
        "born": number(session.created_at),
        "body": pack(record.model_dump_json()),
        **_expiry(session),
    }


def sort_keys(header: Mapping[str, Any]) -> list[str]:
    """The sort key of every item of the session a header item heads."""
    steps = header.get("steps", {}).get("M", {})
    return [HEADER, DEFINITION, *(STEP_PREFIX + sid for sid in steps)]


# --- reading items back ---------------------------------------------------------------------------


def expired(header: Mapping[str, Any], now: float) -> bool:
    """Whether a header item's session has expired at ``now``."""
    expires = header.get("expires_at")
    return expires is not None and float(expires["N"]) <= now


def assemble(header: Item, items: Mapping[str, Item]) -> Session | None:
    """The session from its items, or ``None`` if they come from different saves (torn read)."""
    born = float(header["created_at"]["N"])
    changed = {sid: int(v["N"]) for sid, v in header["steps"]["M"].items()}
    definition_item = items.get(DEFINITION)
    if definition_item is None or float(definition_item["born"]["N"]) != born:
        return None
    definition = ChainDefinition.model_validate_json(unpack(definition_item["body"]))
    order = [s.id for s in definition.steps if s.id in changed]
    records: dict[str, StepRecord] = {}
    for sid in order + [sid for sid in changed if sid not in set(order)]:
        item = items.get(STEP_PREFIX + sid)
        if item is None or float(item["born"]["N"]) != born:
            return None
        record = StepRecord.model_validate_json(unpack(item["body"]))
        if record.changed_in != changed[sid]:
            return None
        records[sid] = record
    fields = _summary_fields(header)
    return session_from_parts(fields, definition, records)


def _summary_fields(header: Mapping[str, Any]) -> dict[str, Any]:
    """The summary fields present in a header item, as Python values."""
    out: dict[str, Any] = {}
    for field in SUMMARY_FIELDS:
        value = header.get(field)
        if value is None:
            continue
        if field in _NUMBER_FIELDS:
            text = value["N"]
            out[field] = int(text) if field in _INT_FIELDS else float(text)
        else:
            out[field] = value["S"]
    return out


def summary(header: Mapping[str, Any]) -> SessionSummary:
    """A listing's summary of a header item."""
    fields = _summary_fields(header)
    fields.setdefault("end_user", None)
    fields.setdefault("expires_at", None)
    return SessionSummary.model_validate(fields)


# --- sizes ----------------------------------------------------------------------------------------


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
