"""How sessions are laid out in Tablestore: keys, columns and back; no SDK, no client calls."""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from collections.abc import Mapping
from typing import Any

from taskchain.models import ChainDefinition, Session, StepRecord
from taskchain.store import SessionSummary, decode_cursor, session_from_parts, summarize
from taskchain.store.dynamodb_layout import CREATED_LIMIT, created_key, escape

# The table's primary key: two STRING columns; ``pk`` is the partition key. Three kinds of row
# share the table, told apart by the first character of ``pk`` (escaped names hold no '#'):
#   "S<tenant>#<session_id>", sk "session"  one session: summary, definition, one column per step
#   "T<tenant>", sk <created key>           the tenant's listing: one small row per session
#   "U<tenant>#<end user>", sk <created key> one end user's listing
PRIMARY_KEY_SCHEMA = (("pk", "STRING"), ("sk", "STRING"))
SESSION_SK = "session"
SESSION_PREFIX, TENANT_PREFIX, USER_PREFIX = "S", "T", "U"
PING_KEY = [("pk", "P"), ("sk", "ping")]  # a key no session or listing row can have

# Tablestore's limits (help.aliyun.com/zh/tablestore/general-limits-of-tablestore).
MAX_KEY_BYTES = 1024  # a STRING primary-key column
MAX_COLUMN_BYTES = 2 * 1024 * 1024  # one attribute column value
MAX_WRITE_BYTES = 4 * 1024 * 1024  # one PutRow / UpdateRow, primary key included
MAX_WRITE_COLUMNS = 1024  # attribute columns in one row write
MIN_TABLE_TTL = 86_400  # TableOptions.time_to_live: -1 or at least a day

COMPRESS_FROM_BYTES = 1024  # shorter JSON is stored as text: zlib would save next to nothing

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
# The summary fields a save can change; the others are written once, by create.
MUTABLE_FIELDS = ("version", "status", "completed", "updated_at")
_INT_FIELDS = frozenset({"version", "completed", "total"})
_FLOAT_FIELDS = frozenset({"created_at", "updated_at", "expires_at"})
STEPS = "steps"  # JSON [[step_id, changed_in], ...] in record order
DEFINITION = "definition"  # the ChainDefinition, written once by create

PrimaryKey = list[tuple[str, Any]]
Columns = list[tuple[str, Any]]

# --- keys -----------------------------------------------------------------------------------------


def key_fits(value: str) -> bool:
    """Whether ``value`` is a legal STRING primary-key value: longer ones hold nothing."""
    return len(value.encode()) <= MAX_KEY_BYTES


def session_key(tenant: str, session_id: str) -> PrimaryKey | None:
    """The primary key of a session's row; ``None`` if no row can have it."""
    # The tenant is escaped, so the first '#' always ends it: no (tenant, id) pair can spell the
    # key of another tenant's session.
    pk = SESSION_PREFIX + escape(tenant) + "#" + session_id
    return [("pk", pk), ("sk", SESSION_SK)] if key_fits(pk) else None


def tenant_partition(tenant: str) -> str:
    """The ``pk`` of a tenant's listing rows."""
    return TENANT_PREFIX + escape(tenant)


def user_partition(tenant: str, end_user: str) -> str:
    """The ``pk`` of one end user's listing rows."""
    pk = USER_PREFIX + escape(tenant) + "#" + escape(end_user)
    if not key_fits(pk):
        # Too long for a key: the user is named by a digest instead. An escaped name holds no
        # '#', so "<tenant>##<digest>" cannot spell any "<tenant>#<user>".
        pk = USER_PREFIX + escape(tenant) + "##" + hashlib.sha256(end_user.encode()).hexdigest()
    return pk


def listing_keys(session: Session | SessionSummary) -> list[PrimaryKey]:
    """The keys of a session's listing rows: the tenant's, and its end user's if it has one."""
    sk = created_key(session.created_at, session.session_id)
    partitions = [tenant_partition(session.tenant)]
    if session.end_user is not None:
        partitions.append(user_partition(session.tenant, session.end_user))
    return [[("pk", pk), ("sk", sk)] for pk in partitions if key_fits(pk) and key_fits(sk)]


def listing_columns(session: Session) -> Columns:
    """What a listing row holds: enough to find the session row and check it is the same one."""
    return [("created_at", float(session.created_at)), ("session_id", session.session_id)]


def listing_start(cursor: str | None) -> tuple[str | None, bool]:
    """Where a newest-first listing starts, and whether the rows start at all.

    Returns ``(sk, True)`` to read backwards from ``sk`` (the cursor's own row, if any, is
    skipped by the caller) or ``(None, True)`` to read from the newest row; ``(None, False)``
    when no session can come after ``cursor``.

    Raises
    ------
    InvalidRequestError
        ``code="INVALID_FIELD"``: a cursor this service did not make.
    """
    if cursor is None:
        return None, True
    created_at, session_id = decode_cursor(cursor)
    if created_at < 0:
        return None, False  # before every possible session
    if created_at >= CREATED_LIMIT:
        return None, True
    return created_key(created_at, session_id), True


_PLAIN = re.compile(r"[A-Za-z0-9]")


def step_column(step_id: str) -> str:
    """The attribute column of a step's record: a legal column name no other step id maps to."""
    # Column names are [A-Za-z_][A-Za-z0-9_]{0,254}. Letters and digits stay; every other byte
    # (the '_' too) becomes "_hh", so the mapping is one-to-one; a name that grows past the
    # limit (a long Chinese id) is replaced by a digest under its own prefix.
    name = "s_" + "".join(c if _PLAIN.fullmatch(c) else _hex(c) for c in step_id)
    if len(name) > 255:
        name = "d_" + hashlib.sha256(step_id.encode()).hexdigest()
    return name


def _hex(char: str) -> str:
    """``_hh`` for each UTF-8 byte of ``char``."""
    return "".join(f"_{b:02x}" for b in char.encode())


# --- values ---------------------------------------------------------------------------------------


def pack(text: str) -> str | bytearray:
    """Text as a STRING value, or as zlib-compressed BINARY when that is smaller."""
    # The SDK writes ``bytearray`` as BINARY and ``str`` (or ``bytes``) as STRING.
    raw = text.encode()
    if len(raw) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return bytearray(packed)
    return text


def unpack(value: str | bytes | bytearray) -> str:
    """The text of a value written by :func:`pack`."""
    if isinstance(value, bytes | bytearray):
        return zlib.decompress(bytes(value)).decode()
    return value


# --- the session row ------------------------------------------------------------------------------


def _summary_columns(session: Session, fields: tuple[str, ...]) -> Columns:
    """``fields`` of the session's summary as typed columns (INTEGER, DOUBLE, STRING)."""
    summary = summarize(session)
    columns: Columns = []
    for field in fields:
        value = getattr(summary, field)
        if value is None:
            continue  # end_user, expires_at: absent
        if field in _INT_FIELDS:
            columns.append((field, int(value)))
        elif field in _FLOAT_FIELDS:
            columns.append((field, float(value)))
        else:
            columns.append((field, str(value)))
    return columns


def _steps_column(session: Session) -> tuple[str, str]:
    """Each step's ``changed_in``, in record order."""
    steps = [[sid, record.changed_in] for sid, record in session.records.items()]
    return STEPS, json.dumps(steps, ensure_ascii=False, separators=(",", ":"))


def _record_column(record: StepRecord) -> tuple[str, str | bytearray]:
    """The column of one step record."""
    return step_column(record.step_id), pack(record.model_dump_json())


def session_columns(session: Session) -> Columns:
    """Every column of a new session's row: what create writes."""
    return [
        *_summary_columns(session, SUMMARY_FIELDS),
        _steps_column(session),
        (DEFINITION, pack(session.definition.model_dump_json())),
        *(_record_column(r) for r in session.records.values()),
    ]


def save_columns(session: Session, expected_version: int) -> Columns:
    """What a save writes: the summary fields a save changes, the step list, and the records
    that changed since ``expected_version``; never the definition or an unchanged output.
    """
    return [
        *_summary_columns(session, MUTABLE_FIELDS),
        _steps_column(session),
        *(_record_column(r) for r in session.records.values() if r.changed_in > expected_version),
    ]


def columns_of(attribute_columns: Any) -> dict[str, Any]:
    """A row's attribute columns (``[(name, value, timestamp), ...]``) by name."""
    return {column[0]: column[1] for column in attribute_columns or ()}


def expired(columns: Mapping[str, Any], now: float) -> bool:
    """Whether the session whose row holds ``columns`` has expired at ``now``."""
    expires = columns.get("expires_at")
    return expires is not None and float(expires) <= now


def assemble(columns: Mapping[str, Any]) -> Session | None:
    """The session a row's columns hold; ``None`` if some are gone.

    A row is written whole by one PutRow or UpdateRow, so its columns always agree; a column can
    only be missing if the table's TTL removed it (a TTL shorter than the session's lifetime).
    """
    if STEPS not in columns or DEFINITION not in columns:
        return None
    definition = ChainDefinition.model_validate_json(unpack(columns[DEFINITION]))
    records: dict[str, StepRecord] = {}
    for sid, _changed_in in json.loads(columns[STEPS]):
        value = columns.get(step_column(sid))
        if value is None:
            return None
        records[sid] = StepRecord.model_validate_json(unpack(value))
    fields = _summary_fields(columns)
    if set(SUMMARY_FIELDS) - {"end_user", "expires_at"} - fields.keys():
        return None
    return session_from_parts(fields, definition, records)


def _summary_fields(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The summary fields present in a row, as Python values."""
    out: dict[str, Any] = {}
    for field in SUMMARY_FIELDS:
        value = columns.get(field)
        if value is None:
            continue
        if field in _INT_FIELDS:
            out[field] = int(value)
        elif field in _FLOAT_FIELDS:
            out[field] = float(value)
        else:
            out[field] = value
    return out


def summary(columns: Mapping[str, Any]) -> SessionSummary | None:
    """A listing's summary of a session row (read with ``columns_to_get=SUMMARY_FIELDS``)."""
    fields = _summary_fields(columns)
    if set(SUMMARY_FIELDS) - {"end_user", "expires_at"} - fields.keys():
        return None
    fields.setdefault("end_user", None)
    fields.setdefault("expires_at", None)
    return SessionSummary.model_validate(fields)


# --- table settings -------------------------------------------------------------------------------


def table_ttl_seconds(session_ttl_seconds: float) -> int:
    """The table TTL that never removes a cell of a live session.

    Tablestore's TTL removes each *cell* once its write time is older than the TTL. Every cell
    of a session is written at or after ``created_at``, so a TTL of at least the session's
    lifetime (``expires_at - created_at``) keeps the whole row while it lives; a day is added
    for clock skew between the function and the service.
    """
    return max(MIN_TABLE_TTL, math.ceil(session_ttl_seconds) + MIN_TABLE_TTL)


def row_bytes(primary_key: PrimaryKey, columns: Columns) -> int:
    """The size Tablestore limits (4 MB per write) and meters a row by: names plus values.

    Text as UTF-8, binary as is, integer and double 8 bytes, boolean 1.
    """
    return sum(len(name.encode()) + value_bytes(value) for name, value in (*primary_key, *columns))


def value_bytes(value: Any) -> int:
    """The size of one column value."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, bool):
        return 1
    return 8
