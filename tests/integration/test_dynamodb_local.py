"""The DynamoDB store on AWS's DynamoDB Local: sessions at the limits, item sizes, TTL."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import pytest

from taskchain.errors import StoreError
from taskchain.store import summarize
from taskchain.store.dynamodb import MAX_ITEM_BYTES, TTL_ATTRIBUTE, DynamoDBStore, item_size
from tests.aws_template import ttl_attribute
from tests.factories import T0, FakeClock, complete_step, make_session
from tests.integration.dynamodb_local import client_for
from tests.unit.test_dynamodb_store import (
    IndexReads,
    all_pages,
    guided_run,
    maximal_session,
    mixed_sessions,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration


@pytest.fixture
def store(dynamodb_client: DynamoDBClient, sessions_table: str) -> DynamoDBStore:
    return DynamoDBStore(sessions_table, client=dynamodb_client, clock=FakeClock())


def partition(client: DynamoDBClient, table: str, pk: str) -> dict[str, dict[str, Any]]:
    """Every item of a session's partition as stored, by sort key (a raw Query)."""
    found = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    assert "LastEvaluatedKey" not in found
    return {item["sk"]["S"]: dict(item) for item in found["Items"]}


def test_the_maximal_session_round_trips(store: DynamoDBStore) -> None:
    # GIVEN the largest legal session: 20 steps, 20,000-character Chinese outputs (~60 KB each)
    session = maximal_session()

    # WHEN it is created, then saved with every step record changed
    store.create(session)
    created = store.get("t1", "max")
    changed = session.model_copy(
        update={
            "version": 2,
            "records": {
                k: r.model_copy(update={"changed_in": 2, "output": (r.output or "")[::-1]})
                for k, r in session.records.items()
            },
        }
    )
    store.save(changed, expected_version=1)

    # THEN both versions come back exactly
    assert created == session
    assert store.get("t1", "max") == changed
    assert store.list("t1").items == [summarize(changed)]


def test_a_guided_session_keeps_every_item_well_under_400_kb(
    store: DynamoDBStore, dynamodb_client: DynamoDBClient, sessions_table: str
) -> None:
    # GIVEN a 20-step guided session worked to the end, saved version after version
    versions = guided_run()
    store.create(versions[0])
    for previous, current in itertools.pairwise(versions):
        store.save(current, expected_version=previous.version)

    # WHEN its items are read back raw
    items = partition(dynamodb_client, sessions_table, "t1#guided")

    # THEN there is a header, the definition and one item per step, each far below the limit
    assert len(items) == 2 + 20
    sizes = {sk: item_size(item) for sk, item in items.items()}
    assert max(sizes.values()) < MAX_ITEM_BYTES / 8, sizes
    assert sizes["HEADER"] < 1024  # what every save rewrites and every listing reads
    assert store.get("t1", "guided") == versions[-1]


def test_every_item_carries_the_ttl_the_template_expires_by(
    store: DynamoDBStore, dynamodb_client: DynamoDBClient, sessions_table: str
) -> None:
    expires_at = T0 + 3600.25
    session = make_session(session_id="s1", expires_at=expires_at)
    store.create(session)
    store.save(complete_step(session, "step_1", "输出"), expected_version=1)

    items = partition(dynamodb_client, sessions_table, "t1#s1")

    assert ttl_attribute() == TTL_ATTRIBUTE  # the attribute template.yaml enables TTL on
    # epoch seconds, rounded up so that TTL never removes a session before it expires
    assert {sk: item[TTL_ATTRIBUTE] for sk, item in items.items()} == {
        sk: {"N": str(math.ceil(expires_at))}
        for sk in ("HEADER", "DEF", "STEP#step_1", "STEP#step_2")
    }
    assert int(items["HEADER"][TTL_ATTRIBUTE]["N"]) - expires_at < 1


def test_a_session_without_expiry_has_no_ttl(
    store: DynamoDBStore, dynamodb_client: DynamoDBClient, sessions_table: str
) -> None:
    store.create(make_session(session_id="s1", expires_at=None))

    items = partition(dynamodb_client, sessions_table, "t1#s1")

    assert all(TTL_ATTRIBUTE not in item for item in items.values())


def test_listing_by_end_user_pages_through_that_users_sessions_reading_only_their_headers(
    dynamodb_local_endpoint: str, sessions_table: str
) -> None:
    # GIVEN a user's sessions among others' on DynamoDB Local, 3 of her 10 expired
    client = client_for(dynamodb_local_endpoint)  # its own: the hooks below stay with this test
    clock = FakeClock()
    store = DynamoDBStore(sessions_table, client=client, clock=clock)
    alice = mixed_sessions(store)
    clock.advance(60)
    reads = IndexReads(client)

    # WHEN her listing is read page by page, and then whole
    pages = all_pages(store, "alice", limit=2)
    reads.scanned = 0
    whole = store.list("t1", end_user="alice", limit=100)

    # THEN it holds exactly her live sessions, newest first, and the by_user index read her 10
    # headers and no one else's (the expired ones are read, then filtered out)
    assert [sid for page in pages for sid in page] == alice
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [s.session_id for s in whole.items] == alice
    assert reads.scanned == 10
    assert {item["end_user"]["S"] for item in reads.returned} == {"alice"}


def test_the_store_makes_its_own_client_from_an_endpoint(
    dynamodb_local_endpoint: str, sessions_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The way bootstrap builds it (TASKCHAIN_DYNAMODB_ENDPOINT); credentials from the environment.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    store = DynamoDBStore(
        sessions_table,
        endpoint_url=dynamodb_local_endpoint,
        region_name="eu-central-1",
        clock=FakeClock(),
    )
    session = make_session(session_id="s1")

    store.ping()
    store.create(session)

    assert store.get("t1", "s1") == session


def test_ping_of_a_missing_table_is_store_unavailable(dynamodb_client: DynamoDBClient) -> None:
    store = DynamoDBStore("no-such-table", client=dynamodb_client)

    with pytest.raises(StoreError) as caught:
        store.ping()

    assert caught.value.details["reason"] == "ResourceNotFoundException"
