"""Powertools idempotency records in Tablestore, for Function Compute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)
from tablestore import (
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    LogicalOperator,
    OTSClient,
    OTSServiceError,
    Row,
    RowExistenceExpectation,
    SingleColumnCondition,
)

from taskchain.store.tablestore_client import (
    Clients,
    is_condition_failure,
    translated,
)
from taskchain.store.tablestore_layout import MAX_COLUMN_BYTES, columns_of, pack, unpack

KEY = "id"  # the table's one primary-key column (STRING), as in infra/aliyun.yaml
# A stored response is zlib-compressed and, past one column's 2 MB, split over two columns:
# ~3.8 MB in all, what one 4 MB write can carry.
DATA_COLUMNS = ("data", "data_1")
_CHUNK_BYTES = MAX_COLUMN_BYTES - 64 * 1024


class TablestorePersistenceLayer(BasePersistenceLayer):
    """Idempotency records in a Tablestore table shaped like Powertools' DynamoDB one.

    One row per key (``id``), columns ``status``, ``expiration`` (seconds), ``in_progress_
    expiration`` (milliseconds), ``data`` and ``validation``. Records expire by their
    ``expiration``, checked on every write; the table's TTL (at least a day) only frees storage
    and must not be shorter than the records' ``expires_after_seconds``.

    Parameters
    ----------
    table_name
        The idempotency table.
    client
        A ``tablestore.OTSClient``; one is created on first use when omitted (see
        :func:`~taskchain.store.tablestore_client.new_client` for the other parameters).
    clock
        Seconds since the epoch; decides which records are dead.
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
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools' __init__ is unannotated
        self.table_name = table_name
        self._clients = Clients(
            client, endpoint, instance_name, (access_key_id, access_key_secret, security_token)
        )
        self._clock = clock

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with translated():
            _, row, _ = self._ots().get_row(
                self.table_name, [(KEY, idempotency_key)], None, max_version=1
            )
        columns = columns_of(row.attribute_columns) if row is not None else {}
        if "status" not in columns or "expiration" not in columns:
            raise IdempotencyItemNotFoundError  # never written, deleted, or removed by the TTL
        return DataRecord(
            idempotency_key=idempotency_key,
            status=columns["status"],
            expiry_timestamp=int(columns["expiration"]),
            in_progress_expiry_timestamp=columns.get("in_progress_expiration"),
            response_data=_response(columns),
            payload_hash=columns.get("validation") or "",
        )

    def _put_record(self, data_record: DataRecord) -> None:
        now = self._clock()
        columns: list[tuple[str, Any]] = [
            ("status", data_record.status),
            ("expiration", int(data_record.expiry_timestamp or 0)),
        ]
        if data_record.in_progress_expiry_timestamp is not None:
            columns.append(
                ("in_progress_expiration", int(data_record.in_progress_expiry_timestamp))
            )
        if self.payload_validation_enabled and data_record.payload_hash:
            columns.append(("validation", data_record.payload_hash))
        row = Row([(KEY, data_record.idempotency_key)], columns)
        # Powertools' DynamoDB layer puts on one condition: the key does not exist, OR its record
        # has expired, OR it is in progress past its invocation's timeout (the function that
        # wrote it was killed). A Tablestore condition cannot say "does not exist OR ...", so it
        # takes two conditional puts; each is atomic, so two writers can never both win.
        if self._put(row, Condition(RowExistenceExpectation.EXPECT_NOT_EXIST)):
            return
        if self._put(row, Condition(RowExistenceExpectation.EXPECT_EXIST, _dead(now))):
            return  # PutRow replaced the whole dead record: no stale data is left
        try:
            existing = self._get_record(data_record.idempotency_key)
        except IdempotencyItemNotFoundError:
            raise IdempotencyItemAlreadyExistsError() from None  # gone meanwhile: the caller retries
        # Like the DynamoDB layer: a different payload under a live key is refused outright.
        self._validate_payload(data_payload=data_record, stored_data_record=existing)
        self._save_to_cache(data_record=existing)
        raise IdempotencyItemAlreadyExistsError(old_data_record=existing)

    def _update_record(self, data_record: DataRecord) -> None:
        data = _data_columns(data_record.response_data or "")
        puts: list[tuple[str, Any]] = [
            ("status", data_record.status),
            ("expiration", int(data_record.expiry_timestamp or 0)),
            *data,
        ]
        if self.payload_validation_enabled and data_record.payload_hash:
            puts.append(("validation", data_record.payload_hash))
        changes: dict[str, list[Any]] = {"put": puts}
        unused = [name for name in DATA_COLUMNS if name not in dict(data)]
        if unused:
            changes["delete_all"] = unused  # a shorter response than one stored before
        # Unconditional, like the DynamoDB layer's update_item: it creates a missing record.
        row = Row([(KEY, data_record.idempotency_key)], changes)
        with translated():
            self._ots().update_row(self.table_name, row, Condition(RowExistenceExpectation.IGNORE))

    def _delete_record(self, data_record: DataRecord) -> None:
        with translated():
            self._ots().delete_row(
                self.table_name,
                Row([(KEY, data_record.idempotency_key)]),
                Condition(RowExistenceExpectation.IGNORE),
            )

    def _put(self, row: Any, condition: Any) -> bool:
        """One conditional PutRow: ``False`` if its condition failed."""
        with translated():
            try:
                self._ots().put_row(self.table_name, row, condition)
            except OTSServiceError as exc:
                if not is_condition_failure(exc):
                    raise
                return False
        return True

    def _ots(self) -> OTSClient:
        """The client for the role's current keys (see :class:`Clients`)."""
        return self._clients.get()


def _dead(now: float) -> Any:
    """The condition of a record that may be taken over at ``now``."""
    in_progress = CompositeColumnCondition(LogicalOperator.AND)
    in_progress.add_sub_condition(
        SingleColumnCondition(
            "status", STATUS_CONSTANTS["INPROGRESS"], ComparatorType.EQUAL, pass_if_missing=False
        )
    )
    in_progress.add_sub_condition(
        SingleColumnCondition(
            "in_progress_expiration",
            int(now * 1000),
            ComparatorType.LESS_THAN,
            pass_if_missing=False,
        )
    )
    dead = CompositeColumnCondition(LogicalOperator.OR)
    # A record without an expiration is a leftover the TTL has half removed: dead too.
    dead.add_sub_condition(
        SingleColumnCondition(
            "expiration", int(now), ComparatorType.LESS_THAN, pass_if_missing=True
        )
    )
    dead.add_sub_condition(in_progress)
    return dead


def _response(columns: dict[str, Any]) -> str:
    """The stored response: one STRING column, or BINARY chunks of compressed text."""
    chunks = [columns[name] for name in DATA_COLUMNS if name in columns]
    if not chunks:
        return ""
    if isinstance(chunks[0], str):
        return chunks[0]
    return unpack(bytearray().join(chunks))


def _data_columns(response: str) -> list[tuple[str, Any]]:
    """The response as one STRING column, or compressed over up to two BINARY columns.

    Raises
    ------
    ValueError
        Even compressed, the response is too large for one Tablestore write.
    """
    packed = pack(response)
    if isinstance(packed, str):
        return [(DATA_COLUMNS[0], packed)]
    chunks = [packed[i : i + _CHUNK_BYTES] for i in range(0, len(packed), _CHUNK_BYTES)]
    if len(chunks) > len(DATA_COLUMNS):
        raise ValueError(f"a {len(packed)}-byte compressed response does not fit one write")
    return [(name, bytearray(chunk)) for name, chunk in zip(DATA_COLUMNS, chunks, strict=False)]


__all__ = ["TablestorePersistenceLayer"]
