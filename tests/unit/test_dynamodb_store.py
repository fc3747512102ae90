"""What only the DynamoDB store promises: its item layout, write cost, requests and error mapping.

Runs on moto with a table built from template.yaml; the shared contract runs on DynamoDB Local.
"""

from __future__ import annotations

import copy
import itertools
import random
import time
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from taskchain import engine
from taskchain.chain import registry_for
from taskchain.errors import ConflictError, NotFoundError, StoreError
from taskchain.limits import (
    MAX_OUTPUT_CHARS,
    MAX_STEP_DESCRIPTION_CHARS,
    MAX_STEP_NAME_CHARS,
    MAX_STEPS,
    MAX_TARGET_CHARS,
    SUMMARY_CHARS,
)
from taskchain.models import (
    ChainConfig,
    ChainDefinition,
    Feedback,
    Session,
    StepRecord,
    StepSpec,
    ValidationRules,
)
from taskchain.states import StepState
from taskchain.store import summarize
from taskchain.store.dynamodb import MAX_ITEM_BYTES, TTL_ATTRIBUTE, DynamoDBStore, item_size
from taskchain.store.dynamodb_layout import header_item, step_item
from tests.aws_template import create_table_request, ttl_attribute
from tests.factories import DAY, T0, FakeClock, complete_step, make_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

TABLE = "sessions"
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024

# --- sessions at the limits -----------------------------------------------------------------------

# Every CJK unified ideograph: random text over them is close to incompressible (the worst case).
ALL_HANZI = [chr(c) for c in range(0x4E00, 0xA000)]
# The 3000 most common-looking ones: compresses about as well as real Chinese prose.
COMMON_HANZI = ALL_HANZI[:3000]


def hanzi(rng: random.Random, chars: int, alphabet: list[str] = ALL_HANZI) -> str:
    """``chars`` random Chinese characters (3 bytes each in UTF-8)."""
    return "".join(rng.choices(alphabet, k=chars))


def maximal_session(session_id: str = "max", tenant: str = "t1", seed: int = 1) -> Session:
    """The largest session the limits allow: 20 steps, each 1000-character description, each
    output 20,000 incompressible Chinese characters (~60 KB of UTF-8), all completed at once.
    """
    rng = random.Random(seed)
    steps = tuple(
        StepSpec(
            id=f"step_{i:02d}",
            name=hanzi(rng, MAX_STEP_NAME_CHARS),
            description=hanzi(rng, MAX_STEP_DESCRIPTION_CHARS),
            capabilities=("理解分析",),
            dependencies=(f"step_{i - 1:02d}",) if i > 1 else (),
        )
        for i in range(1, MAX_STEPS + 1)
    )
    definition = ChainDefinition(
        task_type="custom", target=hanzi(rng, MAX_TARGET_CHARS), config=ChainConfig(), steps=steps
    )
    feedback = tuple(
        Feedback(rule=f"rule_{k}", passed=True, severity="info", message=hanzi(rng, 60))
        for k in range(6)
    )
    records = {
        spec.id: StepRecord(
            step_id=spec.id,
            state=StepState.COMPLETED,
            attempts=3,
            output=hanzi(rng, MAX_OUTPUT_CHARS),
            summary=hanzi(rng, SUMMARY_CHARS),
            executor="model",
            feedback=feedback,
            ready_at=T0,
            finished_at=T0 + 60,
            duration=60.0,
        )
        for spec in steps
    }
    return Session(
        session_id=session_id,
        tenant=tenant,
        end_user="用户" * 10,
        status="completed",
        definition=definition,
        records=records,
        created_at=T0,
        updated_at=T0 + 60,
        expires_at=T0 + 7 * DAY,
    )


def guided_run(
    session_id: str = "guided", output_chars: int = MAX_OUTPUT_CHARS, seed: int = 2
) -> list[Session]:
    """Every version of a 20-step guided session worked through the engine, from start to end:
    per step one rejected attempt (too short) and one accepted output, which readies the next.
    """
    rng = random.Random(seed)
    # Random text is not prose: only the length rules judge it.
    rules = ValidationRules(
        min_length=500,
        max_length=MAX_OUTPUT_CHARS,
        required_sections=(),
        require_focus_areas=False,
        skip_rules=("on_topic", "no_filler", "concrete", "no_internal_repeat", "not_repeat"),
    )
    steps = tuple(
        StepSpec(
            id=f"step_{i:02d}",
            name=f"第 {i} 步",
            description=hanzi(rng, 200, COMMON_HANZI),
            capabilities=("理解分析",),
            dependencies=(f"step_{i - 1:02d}",) if i > 1 else (),
            validation_rules=rules,
        )
        for i in range(1, MAX_STEPS + 1)
    )
    definition = ChainDefinition(
        task_type="custom", target=hanzi(rng, 200, COMMON_HANZI), config=ChainConfig(), steps=steps
    )
    registry = registry_for(definition)
    now = T0
    session = engine.start(
        definition, session_id=session_id, tenant="t1", now=now, end_user="u1", ttl_seconds=DAY
    )
    versions = [session]
    for spec in steps:
        for output in ("太短了", hanzi(rng, output_chars, COMMON_HANZI)):
            now += 30
            session = engine.submit(session, spec.id, output, now=now, registry=registry).session
            versions.append(session)
    assert session.status == "completed"
    return versions


# --- fixtures -------------------------------------------------------------------------------------


class Requests:
    """Every request a client sends, as (operation, parameters), in order."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.dynamodb", self._record)

    def _record(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        self.log.append((model.name, copy.deepcopy(params)))

    def operations(self) -> list[str]:
        """The operations sent since the last :meth:`clear`."""
        return [name for name, _ in self.log]

    def clear(self) -> None:
        """Forget what was sent so far."""
        self.log.clear()

    def written(self) -> list[list[int]]:
        """Per TransactWriteItems, the size of each item it puts (header first)."""
        return [
            [item_size(a["Put"]["Item"]) for a in params["TransactItems"] if "Put" in a]
            for name, params in self.log
            if name == "TransactWriteItems"
        ]


class IndexReads:
    """What the Queries on a secondary index read: items before and after the filter."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.scanned = 0  # items the index read (and bills), before the FilterExpression
        self.returned: list[dict[str, Any]] = []  # items that passed the filter
        client.meta.events.register("provide-client-params.dynamodb.Query", self._mark)
        client.meta.events.register("after-call.dynamodb.Query", self._count)

    def _mark(self, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["index_read"] = "IndexName" in params

    def _count(self, parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        if context.get("index_read"):
            self.scanned += parsed.get("ScannedCount", 0)
            self.returned += parsed.get("Items", [])


def new_client(max_attempts: int = 1, endpoint_url: str | None = None) -> DynamoDBClient:
    """A client with dummy credentials making ``max_attempts`` attempts in all (first + retries);
    one by default, so injected failures surface at once.
    """
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=0.5,
            read_timeout=2,
        ),
    )


@pytest.fixture
def client() -> Iterator[DynamoDBClient]:
    """A moto DynamoDB with the template's SessionsTable."""
    with mock_aws():
        dynamodb = new_client()
        dynamodb.create_table(**create_table_request(TABLE))
        yield dynamodb


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(client: DynamoDBClient, clock: FakeClock) -> DynamoDBStore:
    return DynamoDBStore(TABLE, client=client, clock=clock)


@pytest.fixture
def requests(client: DynamoDBClient) -> Requests:
    return Requests(client)


def raw_items(client: DynamoDBClient, pk: str) -> dict[str, dict[str, Any]]:
    """The items of a partition as stored, by sort key."""
    found = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return {item["sk"]["S"]: dict(item) for item in found["Items"]}


# --- round trips and layout -----------------------------------------------------------------------


def test_a_session_round_trips_through_create_save_get_and_list(store: DynamoDBStore) -> None:
    session = make_session(session_id="s1", end_user="u1", target="长" * 200)
    store.create(session)
    v2 = complete_step(session, "step_1", "## 理解\n- 目标：降低库存积压")
    store.save(v2, expected_version=1)

    assert store.get("t1", "s1") == v2
    assert store.list("t1").items == [summarize(v2)]
    assert store.list("t1", end_user="u1").items == [summarize(v2)]


def test_items_follow_the_documented_layout(store: DynamoDBStore, client: DynamoDBClient) -> None:
    session = make_session(session_id="s1", end_user="u1", steps=3, expires_at=T0 + 100.25)
    store.create(session)
    store.save(complete_step(session, "step_2", "输出" * 2000), expected_version=1)

    items = raw_items(client, "t1#s1")

    assert sorted(items) == ["DEF", "HEADER", "STEP#step_1", "STEP#step_2", "STEP#step_3"]
    header = items["HEADER"]
    # the sparse index keys, on the header only
    assert header["tenant"] == {"S": "t1"}
    assert header["tenant_user"] == {"S": "t1#u1"}
    assert header["created"] == {"S": f"{T0:021.9f}#s1"}
    assert all(
        not {"tenant", "tenant_user", "created"} & item.keys()
        for sk, item in items.items()
        if sk != "HEADER"
    )
    # the header has the summary and each step's changed_in, never an output
    assert header["version"] == {"N": "2"}
    assert header["steps"] == {
        "M": {"step_1": {"N": "1"}, "step_2": {"N": "2"}, "step_3": {"N": "1"}}
    }
    assert item_size(header) < 1024
    # a long output is stored zlib-compressed, a short record as text
    assert "B" in items["STEP#step_2"]["body"]
    assert "S" in items["STEP#step_1"]["body"]
    # every item expires with the session; TTL never fires before expires_at
    assert ttl_attribute() == TTL_ATTRIBUTE
    assert {item[TTL_ATTRIBUTE]["N"] for item in items.values()} == {str(int(T0) + 101)}


def test_the_maximal_session_round_trips_and_every_item_and_transaction_fits(
    store: DynamoDBStore, requests: Requests
) -> None:
    # GIVEN the largest session the limits allow, created finished (as a one-shot run does)
    session = maximal_session()
    raw_output = sum(len((r.output or "").encode()) for r in session.records.values())
    assert raw_output > 1_100_000  # 20 x ~60 KB

    # WHEN it is created, read, and then saved with every record changed
    store.create(session)
    loaded = store.get("t1", "max")
    changed = session.model_copy(
        update={
            "version": 2,
            "records": {
                k: r.model_copy(update={"changed_in": 2, "attempts": 4})
                for k, r in session.records.items()
            },
        }
    )
    store.save(changed, expected_version=1)

    # THEN it comes back whole, and no item nears 400 KB nor a transaction 4 MB
    assert loaded == session
    assert store.get("t1", "max") == changed
    create, save = requests.written()
    assert len(create) == 2 + MAX_STEPS
    assert len(save) == 1 + MAX_STEPS
    assert max(create + save) < MAX_ITEM_BYTES / 4
    assert sum(create) < MAX_TRANSACTION_BYTES / 2


def test_a_tenant_whose_name_contains_the_separator_cannot_reach_another_tenants_session(
    store: DynamoDBStore,
) -> None:
    store.create(make_session(tenant="a", session_id="b#c", target="甲"))
    store.create(make_session(tenant="a#b", session_id="c", target="乙"))

    mine, theirs = store.get("a", "b#c"), store.get("a#b", "c")

    assert mine is not None
    assert mine.definition.target == "甲"
    assert theirs is not None
    assert theirs.definition.target == "乙"
    assert [s.target for s in store.list("a#b").items] == ["乙"]


def test_an_expired_id_taken_by_a_shorter_chain_reads_only_the_new_steps(
    store: DynamoDBStore, clock: FakeClock
) -> None:
    old = make_session(session_id="s1", steps=3, expires_at=T0 + 10)
    store.create(old)
    store.save(complete_step(old, "step_3", "旧的输出"), expected_version=1)
    clock.advance(DAY)

    fresh = make_session(session_id="s1", steps=2, created_at=clock.now)
    store.create(fresh)

    assert store.get("t1", "s1") == fresh


def test_an_unreasonably_long_id_is_simply_not_found(store: DynamoDBStore) -> None:
    long_id = "x" * 3000  # longer than any partition key DynamoDB accepts

    assert store.get("t1", long_id) is None
    assert store.delete("t1", long_id) is False
    with pytest.raises(NotFoundError):
        store.save(
            complete_step(make_session(session_id=long_id), "step_1", "输出"), expected_version=1
        )


# --- requests and write cost ----------------------------------------------------------------------


def test_a_guided_session_costs_its_outputs_once_not_once_per_save(
    store: DynamoDBStore, requests: Requests
) -> None:
    # GIVEN every version of a 20-step guided session with 20,000-character outputs
    versions = guided_run()
    store.create(versions[0])
    requests.clear()

    # WHEN each version is saved over the previous one, as the service does
    for previous, current in itertools.pairwise(versions):
        store.save(current, expected_version=previous.version)

    # THEN each save was one TransactWriteItems, and the bytes written grow with the outputs
    assert requests.operations() == ["TransactWriteItems"] * (len(versions) - 1)
    saves = requests.written()
    written = sum(map(sum, saves))
    headers = sum(save[0] for save in saves)  # the header is the first item of every save
    outputs = sum(
        len(zlib.compress((r.output or "").encode())) for r in versions[-1].records.values()
    )
    assert written < 1.5 * (outputs + headers)
    # while rewriting the whole session on every save would cost about steps / 2 times more
    whole = sum(_whole_session_bytes(v) for v in versions[1:])
    assert whole > 8 * written


def _whole_session_bytes(session: Session) -> int:
    """What a save that rewrote every item of the session would write."""
    pk = "t1#guided"
    return item_size(header_item(pk, session)) + sum(
        item_size(step_item(pk, session, r)) for r in session.records.values()
    )


def test_every_get_is_one_query_and_list_reads_the_index(
    store: DynamoDBStore, requests: Requests
) -> None:
    session = make_session(session_id="s1", steps=5)
    store.create(session)
    store.save(complete_step(session, "step_1", "输出"), expected_version=1)
    requests.clear()

    for _ in range(3):
        store.get("t1", "s1")
    store.get("t1", "no-such-session")
    store.list("t1")
    store.list("t1", end_user="u1")

    assert requests.operations() == ["Query"] * 6
    gets, listings = [p for _, p in requests.log[:4]], [p for _, p in requests.log[4:]]
    assert all(p["ConsistentRead"] is True and "IndexName" not in p for p in gets)
    assert [p["IndexName"] for p in listings] == ["by_tenant", "by_user"]
    assert all(p["ScanIndexForward"] is False for p in listings)


def test_delete_reads_the_header_then_deletes_every_item_in_one_transaction(
    store: DynamoDBStore, requests: Requests, client: DynamoDBClient
) -> None:
    store.create(make_session(session_id="s1", steps=4))
    requests.clear()

    assert store.delete("t1", "s1") is True

    assert requests.operations() == ["GetItem", "TransactWriteItems"]
    assert len(requests.log[1][1]["TransactItems"]) == 2 + 4
    assert raw_items(client, "t1#s1") == {}


def test_list_reads_on_until_the_filter_has_kept_a_page(
    store: DynamoDBStore, requests: Requests, clock: FakeClock
) -> None:
    # GIVEN one live session behind five newer ones that have expired
    store.create(make_session(session_id="live", created_at=T0 - 100, expires_at=None))
    for i in range(5):
        store.create(make_session(session_id=f"gone{i}", created_at=T0 - i, expires_at=T0 + 1))
    clock.advance(10)
    requests.clear()

    page = store.list("t1", limit=1)

    # THEN the reads went on past the pages the filter emptied, to the one live session
    assert [s.session_id for s in page.items] == ["live"]
    assert page.next_cursor is None
    # (pages of 2 headers: the third holds the live one; DynamoDB may answer a fourth, empty)
    assert set(requests.operations()) == {"Query"}
    assert len(requests.operations()) >= 3


def test_a_session_without_an_end_user_has_no_by_user_key(
    store: DynamoDBStore, client: DynamoDBClient
) -> None:
    store.create(make_session(session_id="s1", end_user=None))

    assert "tenant_user" not in raw_items(client, "t1#s1")["HEADER"]
    assert [s.session_id for s in store.list("t1").items] == ["s1"]


def mixed_sessions(store: DynamoDBStore, user: str = "alice") -> list[str]:
    """30 sessions of ``user``, of another user and of nobody, interleaved in time (pairs at the
    same instant); 3 of ``user``'s 10 expire at ``T0 + 10``. Returns ``user``'s other 7 ids,
    newest first.
    """
    mine: list[tuple[float, str]] = []
    for i in range(30):
        created_at = T0 - i // 2  # pairs share an instant: ties are ordered by id
        owner = (user, "bob", None)[i % 3]
        expires_at = T0 + 10 if owner == user and i % 4 == 0 else None
        session_id = f"s{i:02d}"
        store.create(
            make_session(
                session_id=session_id, end_user=owner, created_at=created_at, expires_at=expires_at
            )
        )
        if owner == user and expires_at is None:
            mine.append((created_at, session_id))
    return [sid for _, sid in sorted(mine, reverse=True)]


def all_pages(store: DynamoDBStore, end_user: str, limit: int) -> list[list[str]]:
    """The session ids of every page of ``end_user``'s listing, following the cursors."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = store.list("t1", end_user=end_user, limit=limit, cursor=cursor)
        pages.append([s.session_id for s in page.items])
        assert all(s.end_user == end_user for s in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_listing_by_end_user_pages_through_exactly_that_users_sessions_newest_first(
    store: DynamoDBStore, clock: FakeClock
) -> None:
    # GIVEN alice's sessions among bob's and anonymous ones, 3 of her 10 expired
    alice = mixed_sessions(store)
    clock.advance(60)

    # WHEN her listing is read page by page
    pages = all_pages(store, "alice", limit=2)

    # THEN every live session of hers comes once, newest first, and no empty page follows
    assert [sid for page in pages for sid in page] == alice
    assert len(alice) == 7
    assert [len(page) for page in pages] == [2, 2, 2, 1]


def test_listing_by_end_user_reads_only_that_users_headers(
    store: DynamoDBStore, client: DynamoDBClient, requests: Requests
) -> None:
    # GIVEN a tenant where 3 of 43 sessions are alice's
    for i in range(40):
        store.create(make_session(session_id=f"o{i}", end_user=f"user{i % 4}", created_at=T0 - i))
    for i in range(3):
        store.create(make_session(session_id=f"a{i}", end_user="alice", created_at=T0 - 5 - i))
    reads = IndexReads(client)
    requests.clear()

    # WHEN alice's sessions are listed
    page = store.list("t1", end_user="alice")

    # THEN one Query on by_user read her 3 headers and nothing else: no filter by end user
    assert [s.session_id for s in page.items] == ["a0", "a1", "a2"]
    assert requests.operations() == ["Query"]
    params = requests.log[0][1]
    assert params["IndexName"] == "by_user"
    assert "end_user" not in params["FilterExpression"]
    assert reads.scanned == 3
    assert {item["session_id"]["S"] for item in reads.returned} == {"a0", "a1", "a2"}


def test_an_end_user_name_with_the_separator_cannot_reach_another_tenants_sessions(
    store: DynamoDBStore,
) -> None:
    # "a" + "b#c" and "a#b" + "c" would both be "a#b#c" unescaped
    store.create(make_session(tenant="a", session_id="s1", end_user="b#c", target="甲"))
    store.create(make_session(tenant="a#b", session_id="s2", end_user="c", target="乙"))
    store.create(make_session(tenant="a", session_id="s3", end_user="b%23c", target="丙"))

    assert [s.target for s in store.list("a", end_user="b#c").items] == ["甲"]
    assert [s.target for s in store.list("a#b", end_user="c").items] == ["乙"]
    assert [s.target for s in store.list("a", end_user="b%23c").items] == ["丙"]


def test_a_session_bigger_than_a_query_page_is_read_across_pages(
    store: DynamoDBStore, client: DynamoDBClient, requests: Requests
) -> None:
    # DynamoDB ends a Query page at 1 MB; a small Limit makes the pages short here.
    session = make_session(session_id="s1", steps=6)
    store.create(session)

    def short_pages(params: dict[str, Any], **kwargs: Any) -> None:
        params["Limit"] = 3

    client.meta.events.register("provide-client-params.dynamodb.Query", short_pages)
    requests.clear()

    assert store.get("t1", "s1") == session
    assert requests.operations() == ["Query"] * 3  # 8 items: 3 + 3 + 2


def test_the_store_makes_its_own_client_with_bounded_retries_and_timeouts() -> None:
    store = DynamoDBStore(TABLE, region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")

    config = store._dynamodb().meta.config

    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.connect_timeout is not None
    assert config.read_timeout is not None
    # every attempt timing out still leaves time within Lambda's 30 s to answer 503
    assert 3 * (config.connect_timeout + config.read_timeout) < 25


# --- errors ---------------------------------------------------------------------------------------

UNAVAILABLE_CODES = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
]


def _fail_with(client: DynamoDBClient, operation: str, code: str) -> Any:
    """Make every ``operation`` call fail with ``code`` as DynamoDB would; returns the hook."""

    def fail(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    client.meta.events.register(f"before-call.dynamodb.{operation}", fail)
    return fail


@pytest.mark.parametrize("code", UNAVAILABLE_CODES)
def test_a_throttled_save_is_store_unavailable_and_changes_nothing(
    store: DynamoDBStore, client: DynamoDBClient, code: str
) -> None:
    session = make_session(session_id="s1")
    store.create(session)
    hook = _fail_with(client, "TransactWriteItems", code)

    with pytest.raises(StoreError) as caught:
        store.save(complete_step(session, "step_1", "输出"), expected_version=1)

    assert caught.value.code == "STORE_UNAVAILABLE"
    assert caught.value.details["reason"] == code
    assert caught.value.details["retry_after"] > 0
    client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)
    assert store.get("t1", "s1") == session


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("TransactWriteItems", lambda s: s.create(make_session())),
        ("Query", lambda s: s.get("t1", "s1")),
        ("Query", lambda s: s.list("t1")),
        ("GetItem", lambda s: s.delete("t1", "s1")),
        ("DescribeTable", lambda s: s.ping()),
    ],
)
def test_every_method_maps_throttling_to_store_unavailable(
    store: DynamoDBStore, client: DynamoDBClient, operation: str, call: Any
) -> None:
    _fail_with(client, operation, "ThrottlingException")

    with pytest.raises(StoreError) as caught:
        call(store)

    assert caught.value.details["reason"] == "ThrottlingException"


class _Body:
    """The raw stream of a canned HTTP response."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


def test_throttling_is_retried_by_the_client_and_then_reported(clock: FakeClock) -> None:
    # GIVEN a client allowed two attempts, whose every request DynamoDB answers "throttled"
    # (answered before sending, so no server is involved: moto would apply a request it saw)
    client = new_client(max_attempts=2, endpoint_url="http://127.0.0.1:9")
    sent: list[str] = []

    def throttled(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request.headers["X-Amz-Target"].decode())
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}'
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "r"}
        return AWSResponse(request.url, 400, headers, _Body(body))

    client.meta.events.register_first("before-send.dynamodb", throttled)
    store = DynamoDBStore(TABLE, client=client, clock=clock)

    # WHEN a save is throttled on both attempts
    with pytest.raises(StoreError) as caught:
        store.save(complete_step(make_session(), "step_1", "输出"), expected_version=1)

    # THEN the client's retries were spent, and the caller is told when to come back
    assert sent == ["DynamoDB_20120810.TransactWriteItems"] * 2
    assert caught.value.details == {
        "backend": "dynamodb",
        "reason": "ProvisionedThroughputExceededException",
        "retry_after": 2,
    }


def test_an_unreachable_endpoint_is_store_unavailable(clock: FakeClock) -> None:
    # Port 9 (discard) is closed on a test machine: the connection is refused at once.
    store = DynamoDBStore(TABLE, client=new_client(endpoint_url="http://127.0.0.1:9"), clock=clock)

    for call in (store.ping, lambda: store.get("t1", "s1"), lambda: store.create(make_session())):
        with pytest.raises(StoreError) as caught:
            call()
        assert caught.value.details["reason"] == "EndpointConnectionError"


def _cancel(reasons: list[str]) -> ClientError:
    """A TransactionCanceledException with these per-action reason codes."""
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in reasons],
        },
        "TransactWriteItems",
    )


def test_a_transaction_conflict_is_retried_and_the_save_lands(
    store: DynamoDBStore, client: DynamoDBClient, requests: Requests
) -> None:
    session = make_session(session_id="s1")
    store.create(session)
    conflicts = [_cancel(["None", "TransactionConflict"])]

    def conflict_once(**kwargs: Any) -> None:
        if conflicts:
            raise conflicts.pop()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict_once)
    requests.clear()
    v2 = complete_step(session, "step_1", "输出")

    store.save(v2, expected_version=1)

    assert requests.operations() == ["TransactWriteItems", "TransactWriteItems"]
    assert store.get("t1", "s1") == v2


def test_a_lasting_transaction_conflict_is_store_unavailable(
    store: DynamoDBStore, client: DynamoDBClient
) -> None:
    session = make_session(session_id="s1")
    store.create(session)

    def always(**kwargs: Any) -> None:
        raise _cancel(["TransactionConflict", "None"])

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", always)

    with pytest.raises(StoreError) as caught:
        store.save(complete_step(session, "step_1", "输出"), expected_version=1)

    assert caught.value.details["reason"] == "TransactionConflict"


def test_a_stale_save_reads_the_current_version_from_the_cancellation(
    store: DynamoDBStore, requests: Requests
) -> None:
    session = make_session(session_id="s1")
    store.create(session)
    v2 = complete_step(session, "step_1", "先到")
    store.save(v2, expected_version=1)
    store.save(complete_step(v2, "step_2", "再到"), expected_version=2)
    requests.clear()

    with pytest.raises(ConflictError) as caught:
        store.save(complete_step(session, "step_1", "迟到"), expected_version=1)

    assert caught.value.details == {"expected_version": 1, "current_version": 3}
    assert requests.operations() == ["TransactWriteItems"]  # no second read


def test_a_read_that_catches_half_a_save_reads_again(
    store: DynamoDBStore, client: DynamoDBClient, requests: Requests
) -> None:
    # GIVEN a Query that sees the new header but still the old record of the changed step
    session = make_session(session_id="s1")
    store.create(session)
    stale_record = raw_items(client, "t1#s1")["STEP#step_1"]
    v2 = complete_step(session, "step_1", "新的输出")
    store.save(v2, expected_version=1)
    torn = [True]

    def tear(parsed: dict[str, Any], **kwargs: Any) -> None:
        if torn and parsed.get("Items"):
            torn.pop()
            parsed["Items"] = [
                stale_record if item["sk"]["S"] == "STEP#step_1" else item
                for item in parsed["Items"]
            ]

    client.meta.events.register("after-call.dynamodb.Query", tear)
    requests.clear()

    # WHEN the session is read, THEN the torn view is not returned: a second Query is whole
    assert store.get("t1", "s1") == v2
    assert requests.operations() == ["Query", "Query"]


def test_a_read_that_stays_torn_is_store_unavailable(
    store: DynamoDBStore, client: DynamoDBClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create(make_session(session_id="s1"))
    monkeypatch.setattr(time, "sleep", lambda seconds: None)

    def drop_definition(parsed: dict[str, Any], **kwargs: Any) -> None:
        parsed["Items"] = [i for i in parsed.get("Items", []) if i["sk"]["S"] != "DEF"]

    client.meta.events.register("after-call.dynamodb.Query", drop_definition)

    with pytest.raises(StoreError) as caught:
        store.get("t1", "s1")

    assert caught.value.details["reason"] == "InconsistentRead"
