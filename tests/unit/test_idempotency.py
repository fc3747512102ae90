"""Idempotency records: the SQLite layer and Powertools' DynamoDB layer (on moto) behave alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyValidationError,
)

from taskchain.config import ConfigError, Settings
from taskchain.http.events import LocalContext
from taskchain.http.idempotency import persistence_for
from taskchain.store.idempotency_sqlite import SqlitePersistenceLayer
from tests.aws_template import table_properties_from_template

REQUEST = {"tenant": "acme", "route": "POST /v1/sessions", "key": "k-1", "body": {"a": 1}}


def config(expires_after_seconds: int = 3600) -> IdempotencyConfig:
    cfg = IdempotencyConfig(
        event_key_jmespath="[tenant, route, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
        hash_function="sha256",
    )
    cfg.register_lambda_context(LocalContext())
    return cfg


class Counter:
    """A function that counts its calls and answers with the count."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"status_code": 201, "body": {"n": self.calls, "echo": request["body"]}}


def once(
    layer: BasePersistenceLayer,
    fn: Callable[..., Any],
    request: dict[str, Any],
    cfg: IdempotencyConfig,
) -> Any:
    def call(request: dict[str, Any]) -> Any:
        return fn(request)

    return idempotent_function(
        call, data_keyword_argument="request", persistence_store=layer, config=cfg, key_prefix="t"
    )(request=request)


# --- the layers ------------------------------------------------------------------------------


def idempotency_table(client: Any, name: str) -> str:
    """A table built from template.yaml's IdempotencyTable properties, TTL included."""
    properties = table_properties_from_template(resource="IdempotencyTable")
    client.create_table(
        TableName=name,
        **{k: properties[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")},
    )
    ttl = properties["TimeToLiveSpecification"]
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return name


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_layer(
    request: pytest.FixtureRequest, tmp_path: Path, aws_env: None
) -> Iterator[Callable[[], BasePersistenceLayer]]:
    """Builds layers over one shared backend (like two Lambda instances over one table)."""
    if request.param == "sqlite":
        path = tmp_path / "idempotency.db"
        yield lambda: SqlitePersistenceLayer(path)
        return
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = idempotency_table(client, "idempotency")
        yield lambda: DynamoDBPersistenceLayer(table_name=table, boto3_client=client)


def test_template_table_matches_what_the_dynamodb_layer_expects() -> None:
    properties = table_properties_from_template(resource="IdempotencyTable")
    assert properties["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_a_repeat_replays_the_stored_result(make_layer: Callable[[], BasePersistenceLayer]) -> None:
    fn, layer = Counter(), make_layer()
    first = once(layer, fn, REQUEST, config())
    again = once(make_layer(), fn, REQUEST, config())  # another instance, same records
    assert again == first == {"status_code": 201, "body": {"n": 1, "echo": {"a": 1}}}
    assert fn.calls == 1


def test_another_body_under_the_same_key_is_refused(
    make_layer: Callable[[], BasePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    once(layer, fn, REQUEST, config())
    with pytest.raises(IdempotencyValidationError):
        once(layer, fn, {**REQUEST, "body": {"a": 2}}, config())
    assert fn.calls == 1


def test_every_key_part_separates_records(make_layer: Callable[[], BasePersistenceLayer]) -> None:
    fn, layer = Counter(), make_layer()
    for changed in ({"tenant": "globex"}, {"route": "POST /v1/run"}, {"key": "k-2"}):
        once(layer, fn, {**REQUEST, **changed}, config())
    assert fn.calls == 3


def test_a_request_in_progress_blocks_the_same_key(
    make_layer: Callable[[], BasePersistenceLayer],
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
    make_layer: Callable[[], BasePersistenceLayer],
) -> None:
    fn, layer = Counter(), make_layer()
    cfg = config()
    layer.configure(cfg, key_prefix="t")
    layer.save_inprogress(REQUEST, remaining_time_in_millis=-1_000)  # its timeout has passed
    assert once(layer, fn, REQUEST, cfg)["body"]["n"] == 1


def test_expired_records_are_not_replayed(make_layer: Callable[[], BasePersistenceLayer]) -> None:
    fn, layer = Counter(), make_layer()
    cfg = config(expires_after_seconds=-10)  # every record is born expired
    once(layer, fn, REQUEST, cfg)
    assert once(layer, fn, REQUEST, cfg)["body"]["n"] == 2


def test_a_failed_call_leaves_no_record(make_layer: Callable[[], BasePersistenceLayer]) -> None:
    layer, fn = make_layer(), Counter()

    def failing(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        once(layer, failing, REQUEST, config())
    assert once(layer, fn, REQUEST, config())["body"]["n"] == 1


# --- SQLite specifics ---------------------------------------------------------------------------


def test_sqlite_conditional_insert_has_exactly_one_winner(tmp_path: Path) -> None:
    # GIVEN ten layers on one file (ten processes) racing to claim the same key
    layers = [SqlitePersistenceLayer(tmp_path / "race.db") for _ in range(10)]
    for layer in layers:
        layer.configure(config(), key_prefix="t")
    barrier = threading.Barrier(len(layers))
    outcomes: list[str] = []

    def claim(layer: SqlitePersistenceLayer) -> None:
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


def test_sqlite_drops_expired_rows(tmp_path: Path) -> None:
    layer = SqlitePersistenceLayer(tmp_path / "gc.db")
    fn = Counter()
    for i in range(5):
        once(layer, fn, {**REQUEST, "key": f"old-{i}"}, config(expires_after_seconds=-10))
    once(layer, fn, REQUEST, config())
    rows = layer._db.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0]
    assert rows <= 2


# --- which layer a configuration gets -------------------------------------------------------------


def test_dynamodb_sessions_need_the_idempotency_table() -> None:
    settings = Settings.from_env({"TASKCHAIN_STORE": "dynamodb", "TASKCHAIN_TABLE_NAME": "s"})
    with pytest.raises(ConfigError) as caught:
        persistence_for(settings)
    assert caught.value.variable == "TASKCHAIN_IDEMPOTENCY_TABLE_NAME"


def test_sqlite_sessions_keep_records_next_to_the_sessions_file(tmp_path: Path) -> None:
    settings = Settings.from_env({"TASKCHAIN_STORE": "sqlite", "TASKCHAIN_HOME": str(tmp_path)})
    layer = persistence_for(settings)()
    assert isinstance(layer, SqlitePersistenceLayer)
    assert (tmp_path / "idempotency.db").exists()


def test_dynamodb_sessions_get_the_powertools_layer(aws_env: None) -> None:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    settings = Settings.from_env(
        {
            "TASKCHAIN_STORE": "dynamodb",
            "TASKCHAIN_TABLE_NAME": "s",
            "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": "idem",
            "TASKCHAIN_DYNAMODB_ENDPOINT": "http://127.0.0.1:1",
        }
    )
    layer = persistence_for(settings)()
    assert isinstance(layer, DynamoDBPersistenceLayer)
    assert layer.table_name == "idem"
    assert layer.client.meta.endpoint_url == "http://127.0.0.1:1"
