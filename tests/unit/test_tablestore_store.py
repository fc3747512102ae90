"""What only the Tablestore store promises: its row layout, write cost, requests and conflicts.

Runs on FakeOTSClient (tests/contract/tablestore_fake.py), an in-process fake of the SDK
client: there is no Tablestore emulator. Error mapping is in test_tablestore_errors.py.
"""

from __future__ import annotations

import itertools
import zlib

import pytest

from taskchain.errors import ConflictError, NotFoundError, StoreError
from taskchain.limits import MAX_STEPS
from taskchain.models import Session
from taskchain.store import summarize
from taskchain.store import tablestore_layout as layout
from taskchain.store.tablestore import TablestoreStore
from tests.contract.tablestore_fake import (
    MAX_COLUMN_BYTES,
    MAX_WRITE_BYTES,
    FakeOTSClient,
    create_tablestore_table,
    infra_table,
    service_error,
)
from tests.factories import DAY, T0, FakeClock, complete_step, make_session
from tests.unit.test_dynamodb_store import guided_run, maximal_session

TABLE = "sessions"


@pytest.fixture
def client() -> FakeOTSClient:
    fake = FakeOTSClient()
    create_tablestore_table(fake, TABLE)
    fake.calls.clear()
    return fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(client: FakeOTSClient, clock: FakeClock) -> TablestoreStore:
    return TablestoreStore(TABLE, client=client, clock=clock)


def operations(client: FakeOTSClient, since: int = 0) -> list[str]:
    """The operations the fake answered, from call ``since`` on."""
    return [call.operation for call in client.calls[since:]]


def session_cells(client: FakeOTSClient, tenant: str, session_id: str) -> dict[str, object] | None:
    key = layout.session_key(tenant, session_id)
    assert key is not None
    return client.cells(TABLE, key)


def listing_rows(client: FakeOTSClient) -> dict[tuple[str, str], dict[str, object]]:
    """Every listing row, by (pk, sk)."""
    return {
        key: dict(cells)
        for key, cells in client.tables[TABLE].rows.items()
        if key[1] != layout.SESSION_SK
    }


# --- round trips and layout -----------------------------------------------------------------------


def test_a_session_round_trips_through_create_save_get_and_list(store: TablestoreStore) -> None:
    session = make_session(session_id="s1", end_user="u1", target="长" * 200)
    store.create(session)
    v2 = complete_step(session, "step_1", "## 理解\n- 目标：降低库存积压")
    store.save(v2, expected_version=1)

    assert store.get("t1", "s1") == v2
    assert store.list("t1").items == [summarize(v2)]
    assert store.list("t1", end_user="u1").items == [summarize(v2)]


def test_rows_follow_the_documented_layout(store: TablestoreStore, client: FakeOTSClient) -> None:
    session = make_session(session_id="s1", end_user="u1", steps=3, expires_at=T0 + 100.25)
    store.create(session)
    store.save(complete_step(session, "step_2", "输出" * 2000), expected_version=1)

    cells = session_cells(client, "t1", "s1")

    assert cells is not None
    # one row: the summary, the step list, the definition and one column per step
    assert set(cells) == {
        *(f for f in layout.SUMMARY_FIELDS),
        "steps",
        "definition",
        "s_step_5f1",
        "s_step_5f2",
        "s_step_5f3",
    }
    assert (cells["version"], cells["completed"], cells["total"]) == (2, 1, 3)
    assert cells["expires_at"] == T0 + 100.25
    assert cells["steps"] == '[["step_1",1],["step_2",2],["step_3",1]]'
    # a long output is stored zlib-compressed as BINARY, a short record as STRING
    assert isinstance(cells["s_step_5f2"], bytearray)
    assert isinstance(cells["s_step_5f1"], str)
    # the listing rows: the tenant's and the end user's, keyed by creation, holding no summary
    sk = f"{T0:021.9f}#s1"
    assert listing_rows(client) == {
        ("Tt1", sk): {"created_at": T0, "session_id": "s1"},
        ("Ut1#u1", sk): {"created_at": T0, "session_id": "s1"},
    }


def test_step_columns_are_legal_names_no_two_steps_share() -> None:
    ids = [
        "step_1",
        "step.1",
        "step-1",
        "步骤一",
        "a_2e",
        "a.",
        "x" * 64,
        "长" * 64,
        "长" * 63 + "短",
    ]

    names = [layout.step_column(i) for i in ids]

    assert len(set(names)) == len(ids)
    assert all(len(n) <= 255 and n[0].isalpha() for n in names)
    assert all(
        set(n) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
        for n in names
    )


def test_the_maximal_session_round_trips_and_every_column_and_write_fits(
    store: TablestoreStore, client: FakeOTSClient
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

    # THEN it comes back whole, each in one write, far from 2 MB a column and 4 MB a write
    assert loaded == session
    assert store.get("t1", "max") == changed
    writes = [c for c in client.calls if c.operation in ("PutRow", "UpdateRow")]
    assert [c.operation for c in writes] == ["PutRow", "UpdateRow"]
    assert max(c.written for c in writes) < MAX_WRITE_BYTES / 2
    cells = session_cells(client, "t1", "max")
    assert cells is not None
    assert max(layout.value_bytes(v) for v in cells.values()) < MAX_COLUMN_BYTES / 20
    assert len(cells) == len(layout.SUMMARY_FIELDS) + 2 + MAX_STEPS


def test_a_tenant_whose_name_contains_the_separator_cannot_reach_another_tenants_session(
    store: TablestoreStore,
) -> None:
    store.create(make_session(tenant="a", session_id="b#c", target="甲", end_user="x#y"))
    store.create(make_session(tenant="a#b", session_id="c", target="乙", end_user="y"))

    mine, theirs = store.get("a", "b#c"), store.get("a#b", "c")

    assert mine is not None
    assert mine.definition.target == "甲"
    assert theirs is not None
    assert theirs.definition.target == "乙"
    assert [s.target for s in store.list("a#b").items] == ["乙"]
    assert [s.target for s in store.list("a", end_user="x#y").items] == ["甲"]
    assert store.list("a#b", end_user="y").items[0].target == "乙"


def test_an_expired_id_taken_by_a_shorter_chain_leaves_nothing_of_the_old_session(
    store: TablestoreStore, client: FakeOTSClient, clock: FakeClock
) -> None:
    old = make_session(session_id="s1", steps=3, expires_at=T0 + 10)
    store.create(old)
    store.save(complete_step(old, "step_3", "旧的输出"), expected_version=1)
    clock.advance(DAY)

    fresh = make_session(session_id="s1", steps=2, created_at=clock.now)
    store.create(fresh)

    assert store.get("t1", "s1") == fresh
    cells = session_cells(client, "t1", "s1")
    assert cells is not None
    assert "s_step_5f3" not in cells  # PutRow replaced the whole row
    # the old listing row is still there until the TTL, but it names an earlier session
    assert len(listing_rows(client)) == 2
    assert [s.created_at for s in store.list("t1").items] == [clock.now]


def test_creating_a_live_id_changes_nothing(store: TablestoreStore, client: FakeOTSClient) -> None:
    first = make_session(session_id="s1", end_user="u1")
    store.create(first)

    with pytest.raises(Exception, match="already exists"):
        store.create(make_session(session_id="s1", end_user="u1", created_at=T0 + 5))

    assert store.get("t1", "s1") == first
    # the second create's listing rows went first; they name a session that never landed
    assert [s.session_id for s in store.list("t1").items] == ["s1"]
    assert [s.created_at for s in store.list("t1", end_user="u1").items] == [T0]


def test_an_unreasonably_long_id_is_simply_not_found(store: TablestoreStore) -> None:
    long_id = "x" * 1100  # longer than the 1 KB a STRING primary key may hold

    assert store.get("t1", long_id) is None
    assert store.delete("t1", long_id) is False
    with pytest.raises(NotFoundError):
        store.save(
            complete_step(make_session(session_id=long_id), "step_1", "输出"), expected_version=1
        )


# --- requests and write cost ----------------------------------------------------------------------


def test_a_guided_session_costs_its_outputs_once_not_once_per_save(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    # GIVEN every version of a 20-step guided session with 20,000-character outputs
    versions = guided_run()
    store.create(versions[0])
    start = len(client.calls)

    # WHEN each version is saved over the previous one, as the service does
    for previous, current in itertools.pairwise(versions):
        store.save(current, expected_version=previous.version)

    # THEN each save was one UpdateRow, and the bytes written grow with the outputs
    saves = client.calls[start:]
    assert [c.operation for c in saves] == ["UpdateRow"] * (len(versions) - 1)
    written = sum(c.written for c in saves)
    outputs = sum(
        len(zlib.compress((r.output or "").encode())) for r in versions[-1].records.values()
    )
    headers = 40 * 1000  # a save's summary and step list: under 1 KB each
    assert written < 1.3 * outputs + headers
    # while rewriting the whole session on every save would cost about steps / 2 times more
    whole = sum(_whole_session_bytes(v) for v in versions[1:])
    assert whole > 8 * written


def _whole_session_bytes(session: Session) -> int:
    """What a save that rewrote every column of the session would write."""
    key = layout.session_key(session.tenant, session.session_id)
    assert key is not None
    return layout.row_bytes(key, layout.session_columns(session))


def test_reads_are_one_request_each_and_listings_read_no_output(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    session = make_session(session_id="s1", end_user="u1", steps=5)
    store.create(session)
    assert operations(client) == ["BatchWriteRow", "PutRow"]
    store.save(complete_step(session, "step_1", "输出" * 5000), expected_version=1)
    start = len(client.calls)

    store.get("t1", "s1")
    store.get("t1", "no-such-session")
    page = store.list("t1")
    store.list("t1", end_user="u1")

    assert operations(client, start) == ["GetRow", "GetRow", *["GetRange", "BatchGetRow"] * 2]
    batch_reads = [c.read for c in client.calls[start:] if c.operation == "BatchGetRow"]
    assert max(batch_reads) < 1024  # summaries only, never the 30 KB output
    assert page.items[0].completed == 1


def test_delete_reads_the_identity_then_deletes_the_row_and_its_listing_rows(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    store.create(make_session(session_id="s1", end_user="u1", steps=4))
    start = len(client.calls)

    assert store.delete("t1", "s1") is True

    assert operations(client, start) == ["GetRow", "DeleteRow", "BatchWriteRow"]
    assert client.tables[TABLE].rows == {}


def test_a_failed_listing_cleanup_still_deletes_the_session(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    store.create(make_session(session_id="s1", end_user="u1"))
    client.fail("BatchWriteRow", service_error(503, "OTSServerBusy", "Server is busy."))

    assert store.delete("t1", "s1") is True

    assert store.get("t1", "s1") is None
    assert store.list("t1").items == []  # the leftover listing rows name no session
    assert len(listing_rows(client)) == 2


def test_list_reads_on_past_expired_and_deleted_sessions_to_fill_a_page(
    client: FakeOTSClient, clock: FakeClock
) -> None:
    # GIVEN one live session behind five newer expired ones and one whose row is gone,
    # read two listing rows per GetRange response
    client.page_rows = 2
    store = TablestoreStore(TABLE, client=client, clock=clock)
    store.create(make_session(session_id="live", created_at=T0 - 100, expires_at=None))
    for i in range(5):
        store.create(make_session(session_id=f"gone{i}", created_at=T0 - i, expires_at=T0 + 1))
    store.create(make_session(session_id="orphan", created_at=T0 - 50))
    client.tables[TABLE].rows.pop(tuple(v for _, v in layout.session_key("t1", "orphan") or []))
    clock.advance(10)
    start = len(client.calls)

    page = store.list("t1", limit=1)

    # THEN the reads went on, page by page, to the one live session
    assert [s.session_id for s in page.items] == ["live"]
    assert page.next_cursor is None
    assert operations(client, start).count("GetRange") == 4  # 7 rows, 2 a response


def mixed_sessions(store: TablestoreStore, user: str = "alice") -> list[str]:
    """30 sessions of ``user``, of another user and of nobody, interleaved in time (pairs at the
    same instant); 3 of ``user``'s 10 expire at ``T0 + 10``. Returns ``user``'s other 7 ids,
    newest first.
    """
    mine: list[tuple[float, str]] = []
    for i in range(30):
        created_at = T0 - i // 2
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


def test_listing_by_end_user_pages_through_exactly_that_users_sessions(
    store: TablestoreStore, client: FakeOTSClient, clock: FakeClock
) -> None:
    alice = mixed_sessions(store)
    clock.advance(60)
    start = len(client.calls)

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = store.list("t1", end_user="alice", limit=2, cursor=cursor)
        pages.append([s.session_id for s in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [sid for page in pages for sid in page] == alice
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    # only alice's listing rows were read: 10 of them (3 expired), each at most twice
    ranges = [c for c in client.calls[start:] if c.operation == "GetRange"]
    assert sum(c.rows for c in ranges) <= 2 * 10


def test_racing_creates_of_one_expired_id_have_one_winner(
    store: TablestoreStore, clock: FakeClock
) -> None:
    store.create(make_session(session_id="s1", expires_at=T0 + 1))
    clock.advance(DAY)
    first = make_session(session_id="s1", created_at=clock.now, target="甲")
    second = make_session(session_id="s1", created_at=clock.now + 1, target="乙")

    store.create(first)
    with pytest.raises(Exception, match="already exists"):
        store.create(second)

    assert store.get("t1", "s1") == first


# --- conflicts ------------------------------------------------------------------------------------


def test_a_failed_condition_is_stale_version_and_changes_nothing(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    session = make_session(session_id="s1")
    store.create(session)
    v2 = complete_step(session, "step_1", "先到")
    store.save(v2, expected_version=1)
    v3 = complete_step(v2, "step_2", "再到")
    store.save(v3, expected_version=2)
    before = session_cells(client, "t1", "s1")
    start = len(client.calls)

    with pytest.raises(ConflictError) as caught:
        store.save(complete_step(session, "step_1", "迟到" * 1000), expected_version=1)

    assert caught.value.code == "STALE_VERSION"
    assert caught.value.details == {"expected_version": 1, "current_version": 3}
    # one conditional UpdateRow that wrote nothing, then one small read of the version
    assert operations(client, start) == ["UpdateRow", "GetRow"]
    assert session_cells(client, "t1", "s1") == before
    assert store.get("t1", "s1") == v3


def test_a_save_after_expiry_is_not_found_and_writes_nothing(
    store: TablestoreStore, client: FakeOTSClient, clock: FakeClock
) -> None:
    session = make_session(session_id="s1", expires_at=T0 + 60)
    store.create(session)
    before = session_cells(client, "t1", "s1")
    clock.advance(60)

    with pytest.raises(NotFoundError):
        store.save(complete_step(session, "step_1", "太迟了"), expected_version=1)

    assert session_cells(client, "t1", "s1") == before


def test_a_throttled_listing_write_fails_the_create_before_the_session_exists(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    client.fail(
        "BatchWriteRow",
        service_error(403, "OTSNotEnoughCapacityUnit", "Remaining CU"),
        per_row=True,
    )

    with pytest.raises(StoreError) as caught:
        store.create(make_session(session_id="s1"))

    assert caught.value.details["reason"] == "OTSNotEnoughCapacityUnit"
    client.heal()
    assert store.get("t1", "s1") is None


# --- the deployed tables and role (infra/aliyun.yaml) ---------------------------------------------


def test_the_deployed_tables_are_the_ones_the_stores_expect() -> None:
    from taskchain.store.idempotency_tablestore import KEY

    _, sessions = infra_table("Sessions")
    _, idempotency = infra_table("Idempotency")

    assert [(c["Name"], c["Type"]) for c in sessions["PrimaryKey"]] == list(
        layout.PRIMARY_KEY_SCHEMA
    )
    assert [(c["Name"], c["Type"]) for c in idempotency["PrimaryKey"]] == [(KEY, "STRING")]
    assert sessions.get("MaxVersions", 1) == idempotency.get("MaxVersions", 1) == 1
    # a TTL must outlive the longest session (TASKCHAIN_SESSION_TTL_HOURS is at most a year)
    ttl = sessions.get("TimeToLive", -1)
    assert ttl == -1 or ttl >= layout.table_ttl_seconds(365 * DAY)


def test_the_function_role_allows_every_call_the_stores_make(
    store: TablestoreStore, client: FakeOTSClient
) -> None:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from taskchain.store.idempotency_tablestore import TablestorePersistenceLayer
    from tests.aws_template import load_template
    from tests.contract.tablestore_fake import INFRA, create_idempotency_table

    # GIVEN every kind of call the session store and the idempotency layer make
    session = make_session(session_id="s1", end_user="u1")
    store.create(session)
    store.get("t1", "s1")
    store.save(complete_step(session, "step_1", "输出"), expected_version=1)
    with pytest.raises(ConflictError):
        store.save(complete_step(session, "step_1", "迟到"), expected_version=1)
    store.list("t1")
    store.ping()
    store.delete("t1", "s1")
    layer = TablestorePersistenceLayer(create_idempotency_table(client), client=client)
    record = DataRecord("k", status="INPROGRESS", expiry_timestamp=2**40)
    layer._put_record(record)
    layer._update_record(record)
    layer._get_record("k")
    layer._delete_record(record)
    used = {f"ots:{c.operation}" for c in client.calls if c.operation != "CreateTable"}

    # THEN the role's policy grants each of them, on the two tables
    role = load_template(INFRA)["Resources"]["Role"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert used <= set(statement["Action"])
    assert len(statement["Resource"]) == 2
