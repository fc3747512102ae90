"""The rules FakeOTSClient applies, as Tablestore documents them: values, conditions, limits.

Limits: help.aliyun.com/zh/tablestore/general-limits-of-tablestore. Error codes and statuses:
the Tablestore error-code reference and the SDK's own tests (OTSConditionCheckFail is 403).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tablestore import (
    INF_MAX,
    INF_MIN,
    ComparatorType,
    CompositeColumnCondition,
    LogicalOperator,
    OTSServiceError,
    RowExistenceExpectation,
    SingleColumnCondition,
)

MAX_KEY_BYTES = 1024
MAX_COLUMN_BYTES = 2 * 1024 * 1024
MAX_WRITE_BYTES = 4 * 1024 * 1024
MAX_WRITE_COLUMNS = 1024
MAX_COLUMNS_TO_GET = 128
MAX_BATCH_GET_ROWS = 100
MAX_BATCH_WRITE_ROWS = 200
MAX_RANGE_ROWS = 5000
MAX_RANGE_BYTES = 4 * 1024 * 1024
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


Key = tuple[Any, ...]
Cells = dict[str, Any]  # column name -> latest value


def service_error(status: int, code: str, message: str) -> OTSServiceError:
    """An error as the SDK raises it for a Tablestore error response."""
    return OTSServiceError(status, code, message, "fake-request-id")


def invalid(message: str) -> OTSServiceError:
    return service_error(400, "OTSParameterInvalid", message)


def condition_failed() -> OTSServiceError:
    return service_error(403, "OTSConditionCheckFail", "Condition check failed.")


# --- values and conditions ------------------------------------------------------------------------


def put_columns(columns: Iterable[Sequence[Any]]) -> Cells:
    """Validated attribute columns ``[(name, value[, timestamp]), ...]`` by name."""
    cells: Cells = {}
    for column in columns:
        name, value = column[0], column[1]
        if not isinstance(name, str) or not COLUMN_NAME.match(name):
            raise invalid(f"Invalid column name: {name!r}.")
        if name in cells:
            raise invalid(f"Duplicated attribute column name: {name}.")
        cells[name] = stored(name, value)
    return cells


def update_columns(changes: Mapping[str, Sequence[Any]]) -> tuple[Cells, list[str]]:
    """The ``put`` and ``delete_all`` parts of an UpdateRow."""
    by_type = {kind.upper(): list(columns) for kind, columns in (changes or {}).items()}
    if set(by_type) - {"PUT", "DELETE_ALL"}:
        raise NotImplementedError(f"the fake implements PUT and DELETE_ALL only: {set(by_type)}")
    if not any(by_type.values()):
        raise invalid("Attribute column is missing.")
    deletes = [c if isinstance(c, str) else c[0] for c in by_type.get("DELETE_ALL", [])]
    return put_columns(by_type.get("PUT", [])), deletes


def stored(name: str, value: Any) -> Any:
    """A value as the service keeps it: STRING, BINARY, INTEGER, DOUBLE or BOOLEAN."""
    if isinstance(value, bytes):
        value = value.decode()  # the SDK sends ``bytes`` as a STRING
    if isinstance(value, str | bytearray):
        size = len(value.encode()) if isinstance(value, str) else len(value)
        if size > MAX_COLUMN_BYTES:
            raise invalid(f"The length of attribute column: '{name}' exceeds the MaxLength.")
        return bytearray(value) if isinstance(value, bytearray) else value
    if isinstance(value, bool | float):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    raise invalid(f"Unsupported value of column {name}: {type(value).__name__}.")


def check(condition: Any, cells: Cells | None) -> None:
    """Raise OTSConditionCheckFail unless ``condition`` holds for the row ``cells``."""
    if condition is None:
        return
    expectation = condition.row_existence_expectation
    if expectation == RowExistenceExpectation.EXPECT_EXIST and cells is None:
        raise condition_failed()
    if expectation == RowExistenceExpectation.EXPECT_NOT_EXIST and cells is not None:
        raise condition_failed()
    column = condition.column_condition
    if column is not None and not holds(column, cells or {}):
        raise condition_failed()


def holds(condition: Any, cells: Cells) -> bool:
    """Whether a column condition holds for a row's latest values."""
    if isinstance(condition, CompositeColumnCondition):
        subs = condition.sub_conditions
        if condition.combinator == LogicalOperator.NOT:
            if len(subs) != 1:
                raise invalid("NOT takes exactly one sub-condition.")
            return not holds(subs[0], cells)
        if len(subs) < 2:
            raise invalid("AND and OR take at least two sub-conditions.")
        results = (holds(sub, cells) for sub in subs)
        return all(results) if condition.combinator == LogicalOperator.AND else any(results)
    if not isinstance(condition, SingleColumnCondition):
        raise NotImplementedError(f"the fake does not implement {type(condition).__name__}")
    if condition.column_name not in cells:
        return bool(condition.pass_if_missing)
    stored, wanted = cells[condition.column_name], condition.column_value
    if kind(stored) != kind(wanted):
        raise invalid(f"Column {condition.column_name} compared with a value of another type.")
    compare: dict[int, Callable[[Any, Any], bool]] = {
        ComparatorType.EQUAL: lambda a, b: a == b,
        ComparatorType.NOT_EQUAL: lambda a, b: a != b,
        ComparatorType.GREATER_THAN: lambda a, b: a > b,
        ComparatorType.GREATER_EQUAL: lambda a, b: a >= b,
        ComparatorType.LESS_THAN: lambda a, b: a < b,
        ComparatorType.LESS_EQUAL: lambda a, b: a <= b,
    }
    return compare[condition.comparator](stored, wanted)


def kind(value: Any) -> str:
    """The Tablestore type of a Python value."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, bytearray):
        return "BINARY"
    return "STRING"


# --- keys and sizes --------------------------------------------------------------------------------


def order(key: Key) -> tuple[tuple[int, Any], ...]:
    """A sort key for a primary key: INF_MIN first, INF_MAX last, strings by their UTF-8 bytes."""
    out = []
    for value in key:
        if value is INF_MIN:
            out.append((0, b""))
        elif value is INF_MAX:
            out.append((2, b""))
        else:
            out.append((1, value.encode() if isinstance(value, str) else value))
    return tuple(out)


def value_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    return 1 if isinstance(value, bool) else 8


def units(size: int) -> int:
    """Capacity units: one per started 4 KB."""
    return max(1, math.ceil(size / 4096))


def versions(max_version: int | None, time_range: Any) -> None:
    if max_version is None and time_range is None:
        raise invalid("Neither column_to_get nor time_range is set: max_version is required.")


def refuse_unimplemented(**arguments: Any) -> None:
    """Refuse arguments this fake does not implement, rather than ignore them."""
    used = {k: v for k, v in arguments.items() if v not in (None, (), {})}
    if used:
        raise NotImplementedError(f"the fake does not implement {sorted(used)}")
