"""Idempotency records on Tablestore behave like the SQLite and DynamoDB layers.

The assertions of test_idempotency.py, run on TablestorePersistenceLayer over FakeOTSClient
(tests/contract/tablestore_fake.py: an in-process fake of the SDK client, not Tablestore).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from taskchain.errors import StoreError
from taskchain.store.idempotency_tablestore import TablestorePersistenceLayer
from tests.contract.tablestore_fake import (
    FakeOTSClient,
    create_idempotency_table,
    service_error,
)

REQUEST = {"tenant": "acme", "route": "POST /v1/sessions", "key": "k-1", "body": {"a": 1}}
TABLE = "idempotency"


class Context:
    """The part of a function context Powertools reads: the time left."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def config(expires_after_seconds: int = 3600) -> IdempotencyConfig:
    cfg = IdempotencyConfig(
        event_key_jmespath="[tenant, route, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
        hash_function="sha256",
    )
    cfg.register_lambda_context(Context())
    return cfg


class Counter:
    """A function that counts its calls and answers with the count."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"status_code": 201, "body": {"n": self.calls, "echo": request["body"]}}


def once(
    layer: TablestorePersistenceLayer,
    fn: Callable[..., Any],
    request: dict[str, Any],
    cfg: IdempotencyConfig,
) -> Any:
    def call(request: dict[str, Any]) -> Any:
        return fn(request)

    return idempotent_function(
        call, data_keyword_argument="request", persistence_store=layer, config=cfg, key_prefix="t"
    )(request=request)


@pytest.fixture
def client() -> FakeOTSClient:
    fake = FakeOTSClient()
    create_idempotency_table(fake, TABLE)
    return fake


@pytest.fixture
def make_layer(client: FakeOTSClient) -> Callable[[], TablestorePersistenceLayer]:
    """Builds layers over one shared table (like two FC instances over one table)."""
    return lambda: TablestorePersistenceLayer(TABLE, client=client)


# --- the assertions every layer passes ------------------------------------------------------------


def test_a_repeat_replays_the_stored_result(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    first = once(layer, fn, REQUEST, config())
    again = once(make_layer(), fn, REQUEST, config())  # another instance, same records
    assert again == first == {"status_code": 201, "body": {"n": 1, "echo": {"a": 1}}}
    assert fn.calls == 1


def test_another_body_under_the_same_key_is_refused(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    once(layer, fn, REQUEST, config())
    with pytest.raises(IdempotencyValidationError):
        once(layer, fn, {**REQUEST, "body": {"a": 2}}, config())
    assert fn.calls == 1


def test_every_key_part_separates_records(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    for changed in ({"tenant": "globex"}, {"route": "POST /v1/run"}, {"key": "k-2"}):
        once(layer, fn, {**REQUEST, **changed}, config())
    assert fn.calls == 3


def test_a_request_in_progress_blocks_the_same_key(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    cfg = config()
    layer.configure(cfg, key_prefix="t")
    layer.save_inprogress(REQUEST, remaining_time_in_millis=60_000)
    with pytest.raises(IdempotencyAlreadyInProgressError):
        once(layer, fn, REQUEST, cfg)
    # ...but a different body under that key is still refused as reuse, not as in progress
    with pytest.raises(IdempotencyValidationError):
        once(layer, fn, {**REQUEST, "body": {"a": 2}}, cfg)
    assert fn.calls == 0


def test_an_in_progress_record_of_a_killed_invocation_is_taken_over(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    cfg = config()
    layer.configure(cfg, key_prefix="t")
    layer.save_inprogress(REQUEST, remaining_time_in_millis=-1_000)  # its timeout has passed
    assert once(layer, fn, REQUEST, cfg)["body"]["n"] == 1


def test_expired_records_are_not_replayed(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    cfg = config(expires_after_seconds=-10)  # every record is born expired
    once(layer, fn, REQUEST, cfg)
    assert once(layer, fn, REQUEST, cfg)["body"]["n"] == 2


def test_a_failed_call_leaves_no_record(
    make_layer: Callable[[], TablestorePersistenceLayer], client: FakeOTSClient
) -> None:
    layer, fn = make_layer(), Counter()

    def failing(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        once(layer, failing, REQUEST, config())
    assert client.tables[TABLE].rows == {}
    assert once(layer, fn, REQUEST, config())["body"]["n"] == 1


def test_conditional_insert_has_exactly_one_winner(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    # GIVEN ten layers on one table (ten FC instances) racing to claim the same key
    layers = [make_layer() for _ in range(10)]
    for layer in layers:
        layer.configure(config(), key_prefix="t")
    barrier = threading.Barrier(len(layers))
    outcomes: list[str] = []

    def claim(layer: TablestorePersistenceLayer) -> None:
        barrier.wait(timeout=10)
        try:
            layer.save_inprogress(REQUEST, remaining_time_in_millis=60_000)
            outcomes.append("won")
        except IdempotencyItemAlreadyExistsError:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim, args=(layer,)) for layer in layers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # THEN exactly one claimed it
    assert sorted(outcomes) == ["lost"] * 9 + ["won"]


# --- Tablestore specifics -------------------------------------------------------------------------


def test_a_record_is_one_row_keyed_by_id_shaped_like_the_dynamodb_one(
    make_layer: Callable[[], TablestorePersistenceLayer], client: FakeOTSClient
) -> None:
    once(make_layer(), Counter(), REQUEST, config())

    ((key, cells),) = client.tables[TABLE].rows.items()

    assert key[0].startswith("t#")
    assert cells["status"] == "COMPLETED"
    assert isinstance(cells["expiration"], int)
    assert isinstance(cells["in_progress_expiration"], int)
    assert len(cells["validation"]) == 64
    assert '"n": 1' in cells["data"]


@pytest.mark.parametrize("chars", [300_000, 1_200_000])
def test_a_large_response_is_stored_compressed_and_replayed_whole(
    make_layer: Callable[[], TablestorePersistenceLayer], client: FakeOTSClient, chars: int
) -> None:
    # A one-shot report: Powertools stores it as JSON with every Chinese character escaped
    # (6 bytes each): 1.8 MB and 7.2 MB before compression.
    rng = random.Random(3)
    text = "".join(rng.choices([chr(c) for c in range(0x4E00, 0x5600)], k=chars))

    def report(request: dict[str, Any]) -> dict[str, Any]:
        return {"status_code": 200, "body": {"markdown": text}}

    first = once(make_layer(), report, REQUEST, config())
    again = once(make_layer(), Counter(), REQUEST, config())

    assert again == first
    ((_, cells),) = client.tables[TABLE].rows.items()
    assert isinstance(cells["data"], bytearray)
    assert ("data_1" in cells) == (chars > 1_000_000)


def test_a_shorter_response_replaces_every_chunk_of_a_longer_one(client: FakeOTSClient) -> None:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    layer = TablestorePersistenceLayer(TABLE, client=client)
    rng = random.Random(4)
    long = "".join(rng.choices([chr(c) for c in range(0x4E00, 0x9FA5)], k=1_500_000))
    layer._update_record(
        DataRecord("k", status="COMPLETED", expiry_timestamp=1, response_data=long)
    )
    layer._update_record(
        DataRecord("k", status="COMPLETED", expiry_timestamp=1, response_data="短")
    )

    assert layer._get_record("k").response_data == "短"
    assert "data_1" not in (client.cells(TABLE, [("id", "k")]) or {})


def test_a_missing_record_is_not_found(
    make_layer: Callable[[], TablestorePersistenceLayer],
) -> None:
    with pytest.raises(IdempotencyItemNotFoundError):
        make_layer()._get_record("never-written")


def test_a_throttled_table_is_a_persistence_error_and_the_function_does_not_run(
    make_layer: Callable[[], TablestorePersistenceLayer], client: FakeOTSClient
) -> None:
    fn = Counter()
    client.fail("PutRow", service_error(503, "OTSServerBusy", "Server is busy."))

    with pytest.raises(IdempotencyPersistenceLayerError) as caught:
        once(make_layer(), fn, REQUEST, config())

    assert isinstance(caught.value.__cause__, StoreError)
    assert fn.calls == 0
