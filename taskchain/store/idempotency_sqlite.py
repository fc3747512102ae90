"""Powertools idempotency records in SQLite, for the local stores (memory and SQLite)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    expiration INTEGER NOT NULL,            -- seconds since the epoch
    in_progress_expiration INTEGER,         -- milliseconds since the epoch
    data TEXT,
    validation TEXT
);
CREATE INDEX IF NOT EXISTS idempotency_expiration ON idempotency (expiration);
"""

# Insert, or take over a record that is dead: expired, or in progress past its invocation's
# timeout (the Lambda that wrote it was killed). The same condition as Powertools' DynamoDB
# layer, in one statement, so two writers can never both win.
_PUT = """
INSERT INTO idempotency (id, status, expiration, in_progress_expiration, validation)
VALUES (:id, :status, :expiration, :in_progress_expiration, :validation)
ON CONFLICT (id) DO UPDATE SET
    status = excluded.status, expiration = excluded.expiration,
    in_progress_expiration = excluded.in_progress_expiration,
    validation = excluded.validation, data = NULL
WHERE idempotency.expiration < :now
   OR (idempotency.status = :inprogress AND idempotency.in_progress_expiration IS NOT NULL
       AND idempotency.in_progress_expiration < :now_ms)
"""


class SqlitePersistenceLayer(BasePersistenceLayer):
    """Idempotency records in one SQLite table shaped like the DynamoDB one.

    Parameters
    ----------
    path
        The database file (created if missing), or ``":memory:"`` for one process.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools' __init__ is unannotated
        target = os.fspath(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each statement is its own transaction; the lock serialises this process's
        # threads on the one connection, SQLite's file lock serialises processes.
        self._db = sqlite3.connect(
            target, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            row = self._db.execute(
                "SELECT id, status, expiration, in_progress_expiration, data, validation "
                "FROM idempotency WHERE id = ?",
                (idempotency_key,),
            ).fetchone()
        if row is None:
            raise IdempotencyItemNotFoundError
        return DataRecord(
            idempotency_key=row[0],
            status=row[1],
            expiry_timestamp=row[2],
            in_progress_expiry_timestamp=row[3],
            response_data=row[4] or "",
            payload_hash=row[5] or "",
        )

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._lock:
            # Expired rows are dead weight: drop them while we hold the lock anyway.
            self._db.execute("DELETE FROM idempotency WHERE expiration < ?", (int(now),))
            changed = self._db.execute(
                _PUT,
                {
                    "id": data_record.idempotency_key,
                    "status": data_record.status,
                    "expiration": data_record.expiry_timestamp,
                    "in_progress_expiration": data_record.in_progress_expiry_timestamp,
                    "validation": data_record.payload_hash
                    if self.payload_validation_enabled
                    else None,
                    "now": int(now),
                    "now_ms": int(now * 1000),
                    "inprogress": STATUS_CONSTANTS["INPROGRESS"],
                },
            ).rowcount
        if changed:
            return
        try:
            existing = self._get_record(data_record.idempotency_key)
        except IdempotencyItemNotFoundError:
            raise IdempotencyItemAlreadyExistsError() from None  # gone meanwhile: the caller retries
        # Like the DynamoDB layer: a different payload under a live key is refused outright.
        self._validate_payload(data_payload=data_record, stored_data_record=existing)
        raise IdempotencyItemAlreadyExistsError(old_data_record=existing)

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET status = ?, expiration = ?, data = ?, validation = ? "
                "WHERE id = ?",
                (
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.response_data,
                    data_record.payload_hash or None,
                    data_record.idempotency_key,
                ),
            )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency WHERE id = ?", (data_record.idempotency_key,))
