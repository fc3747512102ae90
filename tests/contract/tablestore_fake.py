"""FakeOTSClient: an in-process stand-in for ``tablestore.OTSClient``, for tests only.

This is **not Tablestore** and not an emulator (Aliyun offers none). It is a dict of tables
behind one lock that implements only the calls taskchain's Tablestore store and idempotency
layer make, with the semantics the Tablestore docs and the SDK's own tests give them, and raises
the SDK's own exception classes (``OTSServiceError`` with the documented code and HTTP status):

- ``create_table`` (for the tests' own set-up) takes a ``TableMeta`` and ``TableOptions``.
- ``put_row`` replaces the whole row; ``update_row`` puts (``"put"``) and removes
  (``"delete_all"``) columns and creates a missing row; ``delete_row`` removes it. Each checks
  its ``Condition`` first, atomically: the row existence expectation (``IGNORE``,
  ``EXPECT_EXIST``, ``EXPECT_NOT_EXIST``), then the column condition (``SingleColumnCondition``
  with ``pass_if_missing``, ``CompositeColumnCondition`` AND / OR / NOT). A failed check is
  ``OTSServiceError(403, "OTSConditionCheckFail", "Condition check failed.")`` and writes
  nothing.
- ``get_row`` and ``batch_get_row`` (at most 100 rows, no row twice) return the row or ``None``
  (also when ``columns_to_get`` names only columns the row lacks: no data comes back);
  ``batch_write_row`` (at most 200 rows and 4 MB, no row twice) checks each row's condition on
  its own: it is not atomic, a failed row is reported in the response, not raised.
- ``get_range`` reads ``[start, end)`` forwards or backwards in primary-key order (``INF_MIN``
  and ``INF_MAX`` allowed), at most ``limit`` rows and at most 5000 rows or 4 MB per response
  (``page_rows`` lowers that), with ``next_start_primary_key`` set when rows remain.
- Limits refused as the service refuses them (``OTSParameterInvalid``, 400): a STRING key over
  1 KB, an attribute value over 2 MB, a row write over 4 MB or 1024 columns, an illegal column
  name, over 128 ``columns_to_get``.

What it does not do: TTL (cells never expire here; the store filters expiry itself), versions
beyond the latest, filters, secondary indexes, transactions, capacity or throttling (inject
those with :meth:`FakeOTSClient.fail`). Error messages are paraphrased; codes and statuses are
the documented ones. Where the docs are silent it is stricter than the service is known to be:
a condition comparing values of different types is refused, so a store bug fails loudly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tablestore import (
    INF_MAX,
    INF_MIN,
    BatchGetRowResponse,
    BatchWriteRowResponse,
    BatchWriteRowResponseItem,
    BatchWriteRowType,
    CapacityUnit,
    Direction,
    OTSServiceError,
    Row,
    RowDataItem,
)

from tests.aws_template import load_template
from tests.contract.tablestore_fake_rules import (
    MAX_BATCH_GET_ROWS,
    MAX_BATCH_WRITE_ROWS,
    MAX_COLUMN_BYTES,
    MAX_COLUMNS_TO_GET,
    MAX_KEY_BYTES,
    MAX_RANGE_BYTES,
    MAX_RANGE_ROWS,
    MAX_WRITE_BYTES,
    MAX_WRITE_COLUMNS,
    Cells,
    Key,
    check,
    invalid,
    order,
    put_columns,
    refuse_unimplemented,
    service_error,
    units,
    update_columns,
    value_bytes,
    versions,
)

__all__ = [
    "MAX_COLUMN_BYTES",
    "MAX_WRITE_BYTES",
    "Call",
    "FakeOTSClient",
    "create_idempotency_table",
    "create_tablestore_table",
    "infra_table",
    "service_error",
]


@dataclass
class Call:
    """One request the fake answered: what it was and how many bytes of rows it wrote or read."""

    operation: str  # "PutRow", "UpdateRow", "GetRange"...
    table: str
    written: int = 0  # primary keys plus column names and values, as Tablestore meters them
    read: int = 0
    rows: int = 0
    error: str | None = None  # the error code it answered with, if any
    fault: _Fault | None = field(default=None, repr=False)


@dataclass
class _Fault:
    operation: str
    error: Exception
    times: int | None
    per_row: bool


@dataclass
class _Table:
    schema: list[tuple[str, str]]
    options: Any
    meta: Any
    rows: dict[Key, Cells] = field(default_factory=dict)


class FakeOTSClient:
    """The calls of ``tablestore.OTSClient`` that taskchain uses, over in-memory tables.

    Parameters
    ----------
    page_rows
        Rows per ``get_range`` response at most (5000 on the service), to exercise paging.
    """

    def __init__(self, *, page_rows: int = MAX_RANGE_ROWS) -> None:
        self.tables: dict[str, _Table] = {}
        self.calls: list[Call] = []
        self.page_rows = page_rows
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()

    # --- test controls ------------------------------------------------------------------------

    def fail(
        self, operation: str, error: Exception, *, times: int | None = None, per_row: bool = False
    ) -> None:
        """Make ``operation`` ("UpdateRow", "BatchGetRow", "*"...) fail with ``error``.

        The request is refused before it changes anything, as a throttled request is. With
        ``per_row`` a batch answers with every row failed (``error`` must be an
        ``OTSServiceError``); ``times`` limits how often (every time by default).
        """
        self._faults.append(_Fault(operation, error, times, per_row))

    def heal(self) -> None:
        """Forget every injected failure."""
        self._faults.clear()

    def cells(self, table: str, primary_key: Sequence[tuple[str, Any]]) -> Cells | None:
        """The stored columns of a row, as they are, or ``None``."""
        with self._lock:
            found = self.tables[table].rows.get(tuple(v for _, v in primary_key))
            return dict(found) if found is not None else None

    # --- tables -------------------------------------------------------------------------------

    def create_table(
        self, table_meta: Any, table_options: Any, reserved_throughput: Any, *args: Any
    ) -> None:
        """Create an empty table from a ``TableMeta`` and ``TableOptions``."""
        with self._request("CreateTable", table_meta.table_name):
            ttl = table_options.time_to_live
            if ttl != -1 and ttl < 86_400:
                raise invalid("TimeToLive must be -1 or at least 86400 seconds.")
            if table_meta.table_name in self.tables:
                raise service_error(409, "OTSObjectAlreadyExist", "Requested table already exists.")
            schema = [(name, kind) for name, kind in table_meta.schema_of_primary_key]
            self.tables[table_meta.table_name] = _Table(schema, table_options, table_meta)

    # --- single rows --------------------------------------------------------------------------

    def get_row(
        self,
        table_name: str,
        primary_key: Sequence[tuple[str, Any]],
        columns_to_get: Sequence[str] | None = None,
        column_filter: Any = None,
        max_version: int | None = 1,
        time_range: Any = None,
        *rest: Any,
        **more: Any,
    ) -> tuple[Any, Any, None]:
        """``(consumed, row or None, next_token)``."""
        refuse_unimplemented(column_filter=column_filter, time_range=time_range, rest=rest, **more)
        with self._request("GetRow", table_name) as call:
            table = self._table(table_name)
            versions(max_version, time_range)
            key = self._key(table, primary_key)
            row = self._read_row(table, key, columns_to_get)
            read = _row_bytes(table, key, _attributes(row)) if row is not None else 0
            call.read, call.rows = read, int(row is not None)
            return CapacityUnit(units(read), 0), row, None

    def put_row(
        self,
        table_name: str,
        row: Any,
        condition: Any = None,
        return_type: Any = None,
        transaction_id: Any = None,
    ) -> tuple[Any, None]:
        """Replace the whole row if ``condition`` holds."""
        refuse_unimplemented(return_type=return_type, transaction_id=transaction_id)
        with self._request("PutRow", table_name) as call:
            table = self._table(table_name)
            key = self._key(table, row.primary_key)
            cells = put_columns(row.attribute_columns or [])
            size = self._check_write(table, key, cells, ())
            check(condition, table.rows.get(key))
            table.rows[key] = cells
            call.written, call.rows = size, 1
            return CapacityUnit(0, units(size)), None

    def update_row(
        self,
        table_name: str,
        row: Any,
        condition: Any,
        return_type: Any = None,
        transaction_id: Any = None,
    ) -> tuple[Any, None]:
        """Put and remove columns of the row (creating it) if ``condition`` holds."""
        refuse_unimplemented(return_type=return_type, transaction_id=transaction_id)
        with self._request("UpdateRow", table_name) as call:
            table = self._table(table_name)
            key = self._key(table, row.primary_key)
            puts, deletes = update_columns(row.attribute_columns)
            size = self._check_write(table, key, puts, deletes)
            current = table.rows.get(key)
            check(condition, current)
            updated = dict(current or {})
            updated.update(puts)
            for name in deletes:
                updated.pop(name, None)
            table.rows[key] = updated
            call.written, call.rows = size, 1
            return CapacityUnit(0, units(size)), None

    def delete_row(
        self, table_name: str, row: Any = None, condition: Any = None, *args: Any, **kw: Any
    ) -> tuple[Any, None]:
        """Delete the row if ``condition`` holds."""
        primary_key = row.primary_key if isinstance(row, Row) else row
        with self._request("DeleteRow", table_name) as call:
            table = self._table(table_name)
            key = self._key(table, primary_key)
            check(condition, table.rows.get(key))
            table.rows.pop(key, None)
            size = _row_bytes(table, key, [])
            call.written, call.rows = size, 1
            return CapacityUnit(0, units(size)), None

    # --- batches ------------------------------------------------------------------------------

    def batch_get_row(self, request: Any) -> Any:
        """Each requested row, or a missing-row item; per-row failures in the response."""
        with self._request("BatchGetRow", "") as call:
            fault = call.fault
            total = sum(len(item.primary_keys) for item in request.items.values())
            if total == 0:
                raise invalid("No row specified in the request of BatchGetRow.")
            if total > MAX_BATCH_GET_ROWS:
                raise invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_GET_ROWS}.")
            results: dict[str, list[Any]] = {}
            read = 0
            for name, item in request.items.items():
                refuse_unimplemented(column_filter=item.column_filter, time_range=item.time_range)
                versions(item.max_version, item.time_range)
                table = self._table(name)
                keys = [self._key(table, pk) for pk in item.primary_keys]
                if len(set(keys)) != len(keys):
                    raise service_error(400, "OTSInvalidPK", "Duplicated primary key.")
                results[name] = []
                for key in keys:
                    if fault is not None:
                        results[name].append(_failed_get(name, fault.error))
                        continue
                    row = self._read_row(table, key, item.columns_to_get)
                    pk = row.primary_key if row is not None else None
                    attributes = row.attribute_columns if row is not None else None
                    read += _row_bytes(table, key, attributes or []) if row is not None else 0
                    results[name].append(
                        RowDataItem(True, None, None, name, CapacityUnit(0, 0), pk, attributes)
                    )
            call.table, call.read, call.rows = ",".join(results), read, total
            return BatchGetRowResponse(results)

    def batch_write_row(self, request: Any) -> Any:
        """Each row written on its own, if its condition holds; failures in the response."""
        with self._request("BatchWriteRow", "") as call:
            fault = call.fault
            items = [(n, it) for n, t in request.items.items() for it in t.row_items]
            if not items:
                raise invalid("No row is specified in BatchWriteRow.")
            if len(items) > MAX_BATCH_WRITE_ROWS:
                raise invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_WRITE_ROWS}.")
            planned, total = [], 0
            for name, item in items:
                table = self._table(name)
                key = self._key(table, item.row.primary_key)
                if item.type == BatchWriteRowType.PUT:
                    puts, deletes = put_columns(item.row.attribute_columns or []), ()
                elif item.type == BatchWriteRowType.UPDATE:
                    puts, deletes = update_columns(item.row.attribute_columns)
                else:
                    puts, deletes = {}, ()
                total += self._check_write(table, key, puts, deletes)
                planned.append((name, table, key, item, puts, deletes))
            if len({(n, k) for n, _, k, *_ in planned}) != len(planned):
                raise service_error(400, "OTSInvalidPK", "Duplicated primary key.")
            if total > MAX_WRITE_BYTES:
                raise invalid("The total data size of BatchWriteRow request exceeds the limit.")
            results: dict[str, list[Any]] = {name: [] for name, _ in items}
            written = 0
            for name, table, key, item, puts, deletes in planned:
                try:
                    if fault is not None:
                        raise fault.error
                    check(item.condition, table.rows.get(key))
                except OTSServiceError as exc:
                    results[name].append(
                        BatchWriteRowResponseItem(False, exc.code, exc.message, None, None)
                    )
                    continue
                if item.type == BatchWriteRowType.DELETE:
                    table.rows.pop(key, None)
                else:
                    updated = (
                        {}
                        if item.type == BatchWriteRowType.PUT
                        else dict(table.rows.get(key) or {})
                    )
                    updated.update(puts)
                    for column in deletes:
                        updated.pop(column, None)
                    table.rows[key] = updated
                size = _row_bytes(table, key, list(puts.items()))
                written += size
                results[name].append(
                    BatchWriteRowResponseItem(True, None, None, CapacityUnit(0, units(size)), None)
                )
            call.table, call.written, call.rows = ",".join(results), written, len(items)
            return BatchWriteRowResponse(request, results)

    # --- ranges -------------------------------------------------------------------------------

    def get_range(
        self,
        table_name: str,
        direction: str,
        inclusive_start_primary_key: Sequence[tuple[str, Any]],
        exclusive_end_primary_key: Sequence[tuple[str, Any]],
        columns_to_get: Sequence[str] | None = None,
        limit: int | None = None,
        column_filter: Any = None,
        max_version: int | None = 1,
        time_range: Any = None,
        *rest: Any,
        **more: Any,
    ) -> tuple[Any, Any, list[Any], None]:
        """``(consumed, next_start_primary_key, rows, next_token)`` of one response."""
        refuse_unimplemented(column_filter=column_filter, time_range=time_range, rest=rest, **more)
        with self._request("GetRange", table_name) as call:
            table = self._table(table_name)
            versions(max_version, time_range)
            start = self._key(table, inclusive_start_primary_key, bounds=True)
            end = self._key(table, exclusive_end_primary_key, bounds=True)
            if limit is not None and limit <= 0:
                raise invalid("The limit must be greater than 0.")
            low, high = order(start), order(end)
            if direction == Direction.FORWARD:
                if not low < high:
                    raise invalid("Begin key must less than end key in FORWARD.")
                keys = sorted((k for k in table.rows if low <= order(k) < high), key=order)
            elif direction == Direction.BACKWARD:
                if not low > high:
                    raise invalid("Begin key must more than end key in BACKWARD.")
                keys = sorted(
                    (k for k in table.rows if high < order(k) <= low), key=order, reverse=True
                )
            else:
                raise invalid(f"Invalid direction: {direction!r}.")
            cap = min(self.page_rows, MAX_RANGE_ROWS, limit or MAX_RANGE_ROWS)
            rows: list[Any] = []
            read = 0
            for key in keys:
                if len(rows) == cap or read >= MAX_RANGE_BYTES:
                    break
                row = self._read_row(table, key, columns_to_get) or Row(_pk(table, key), [])
                read += _row_bytes(table, key, row.attribute_columns)
                rows.append(row)
            next_start = _pk(table, keys[len(rows)]) if len(rows) < len(keys) else None
            call.read, call.rows = read, len(rows)
            return CapacityUnit(units(read), 0), next_start, rows, None

    # --- internals ----------------------------------------------------------------------------

    @contextmanager
    def _request(self, operation: str, table: str) -> Iterator[Call]:
        """One request, atomic and logged, with its injected failure if any.

        A fault that is not ``per_row`` is raised before anything changes; a per-row one is
        handed to the batch on ``call.fault``.
        """
        with self._lock:
            call = Call(operation, table)
            self.calls.append(call)
            try:
                for fault in self._faults:
                    if fault.operation in (operation, "*") and fault.times != 0:
                        if fault.times is not None:
                            fault.times -= 1
                        if not fault.per_row:
                            raise fault.error
                        call.fault = fault
                        break
                yield call
            except OTSServiceError as exc:
                call.error = exc.code
                raise

    def _table(self, name: str) -> _Table:
        table = self.tables.get(name)
        if table is None:
            raise service_error(404, "OTSObjectNotExist", "Requested table does not exist.")
        return table

    def _key(self, table: _Table, primary_key: Any, *, bounds: bool = False) -> Key:
        """The row key of ``primary_key``, checked against the table's schema."""
        pairs = list(primary_key or [])
        if [name for name, _ in pairs] != [name for name, _ in table.schema]:
            raise service_error(400, "OTSInvalidPK", "Validate PK name fail.")
        for (name, value), (_, kind) in zip(pairs, table.schema, strict=True):
            if bounds and value in (INF_MIN, INF_MAX):
                continue
            if kind == "STRING" and not isinstance(value, str):
                raise service_error(400, "OTSInvalidPK", f"Validate PK type fail: {name}.")
            if isinstance(value, str) and len(value.encode()) > MAX_KEY_BYTES:
                raise invalid(
                    f"The length of primary key column: '{name}' exceeds {MAX_KEY_BYTES}."
                )
        return tuple(value for _, value in pairs)

    def _read_row(self, table: _Table, key: Key, columns: Sequence[str] | None) -> Any:
        """The row as the SDK returns it: attribute columns sorted by name, or ``None``."""
        if columns is not None and len(columns) > MAX_COLUMNS_TO_GET:
            raise invalid(f"The number of columns to get exceeds {MAX_COLUMNS_TO_GET}.")
        cells = table.rows.get(key)
        if cells is None:
            return None
        wanted = set(columns) if columns else None
        attributes = [
            (name, _copy(value), 0)
            for name, value in sorted(cells.items())
            if wanted is None or name in wanted
        ]
        if wanted is not None and not attributes:
            return None  # none of the requested columns: no data comes back
        return Row(_pk(table, key), attributes)

    def _check_write(
        self, table: _Table, key: Key, puts: Mapping[str, Any], deletes: Iterable[str]
    ) -> int:
        """The size of a row write, after checking Tablestore's per-write limits."""
        deletes = list(deletes)
        if len(puts) + len(deletes) > MAX_WRITE_COLUMNS:
            raise invalid(f"The number of columns exceeds the limit: {MAX_WRITE_COLUMNS}.")
        size = _row_bytes(table, key, [*puts.items(), *((n, "") for n in deletes)])
        if size > MAX_WRITE_BYTES:
            raise invalid(f"The total data size of single row exceeds the limit: {size}.")
        return size


# --- helpers --------------------------------------------------------------------------------


def _pk(table: _Table, key: Key) -> list[tuple[str, Any]]:
    return [(name, value) for (name, _), value in zip(table.schema, key, strict=True)]


def _attributes(row: Any) -> list[tuple[str, Any]]:
    return [(c[0], c[1]) for c in row.attribute_columns]


def _row_bytes(table: _Table, key: Key, columns: Iterable[Sequence[Any]]) -> int:
    """Primary-key names and values plus column names and values, in bytes."""
    pairs = [*_pk(table, key), *((c[0], c[1]) for c in columns)]
    return sum(len(name.encode()) + value_bytes(value) for name, value in pairs)


def _copy(value: Any) -> Any:
    return bytearray(value) if isinstance(value, bytearray) else value


def _failed_get(table: str, error: Exception) -> Any:
    code = getattr(error, "code", "OTSInternalServerError")
    return RowDataItem(False, code, str(error), table, None, None, None)


INFRA = Path(__file__).resolve().parents[2] / "infra" / "aliyun.yaml"


def infra_table(resource: str) -> tuple[str, dict[str, Any]]:
    """The name parameter and ``Properties`` of an ``ALIYUN::OTS::Table`` in infra/aliyun.yaml."""
    table = load_template(INFRA)["Resources"][resource]
    assert table["Type"] == "ALIYUN::OTS::Table", table["Type"]
    return table["Properties"]["TableName"]["Ref"], table["Properties"]


def _create_from_infra(client: FakeOTSClient, resource: str, name: str) -> str:
    """Create table ``name`` shaped like the deployed ``resource``, so the two cannot drift."""
    from tablestore import ReservedThroughput, TableMeta, TableOptions

    _, properties = infra_table(resource)
    schema = [(column["Name"], column["Type"]) for column in properties["PrimaryKey"]]
    options = TableOptions(
        time_to_live=properties.get("TimeToLive", -1),
        max_version=properties.get("MaxVersions", 1),
    )
    client.create_table(TableMeta(name, schema), options, ReservedThroughput(CapacityUnit(0, 0)))
    return name


def create_tablestore_table(client: FakeOTSClient, name: str = "sessions") -> str:
    """Create the sessions table as infra/aliyun.yaml deploys it."""
    return _create_from_infra(client, "Sessions", name)


def create_idempotency_table(client: FakeOTSClient, name: str = "idempotency") -> str:
    """Create the idempotency table as infra/aliyun.yaml deploys it."""
    return _create_from_infra(client, "Idempotency", name)
