"""The SessionStore contract: the same assertions against every backend."""

from __future__ import annotations

import threading

import pytest

from taskchain import engine
from taskchain.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    SessionExistsError,
)
from taskchain.store import SessionStore, encode_cursor, summarize
from tests.factories import (
    DAY,
    T0,
    FakeClock,
    build_chain,
    complete_step,
    custom_step,
    make_session,
    passing_output,
    start_chain,
)

# --- create / get ---------------------------------------------------------------------------------


def test_create_then_get_returns_an_equal_session(store: SessionStore) -> None:
    session = make_session(end_user="u1")

    store.create(session)

    assert store.get("t1", session.session_id) == session


def test_create_of_a_taken_id_raises_session_exists_and_keeps_the_first(
    store: SessionStore,
) -> None:
    first = make_session(session_id="s1", target="第一个")
    store.create(first)

    with pytest.raises(SessionExistsError) as caught:
        store.create(make_session(session_id="s1", target="第二个"))

    assert caught.value.code == "SESSION_EXISTS"
    assert store.get("t1", "s1") == first


def test_the_same_id_may_exist_in_two_tenants(store: SessionStore) -> None:
    store.create(make_session(tenant="t1", session_id="s1", target="甲"))
    store.create(make_session(tenant="t2", session_id="s1", target="乙"))

    one, two = store.get("t1", "s1"), store.get("t2", "s1")

    assert one is not None
    assert one.definition.target == "甲"
    assert two is not None
    assert two.definition.target == "乙"


def test_get_of_an_unknown_id_returns_none(store: SessionStore) -> None:
    assert store.get("t1", "no-such-session") is None


def test_a_chinese_session_round_trips_unchanged(store: SessionStore) -> None:
    target = "分析“双十一”促销对库存的影响：成本、风险与建议 🚀 — 包括退货率"
    session = make_session(target=target, end_user="用户甲")
    done = complete_step(session, "step_1", "## 理解\n- 目标：降低库存积压\n- 约束：预算有限")
    store.create(session)
    store.save(done, expected_version=1)

    loaded = store.get("t1", session.session_id)

    assert loaded == done
    assert loaded is not None
    assert loaded.definition.target == target
    assert loaded.record("step_1").output == done.record("step_1").output


def test_a_completed_steps_fingerprint_round_trips(store: SessionStore) -> None:
    # GIVEN a step accepted by the engine, which keeps its output's fingerprint with it
    definition, registry = build_chain(
        steps=[custom_step("a"), custom_step("b", "a")], focus_areas=["成本"]
    )
    session = start_chain(definition)
    output = passing_output(session, "a", registry)
    done = engine.submit(session, "a", output, now=T0 + 1, registry=registry).session
    record = done.record("a")
    assert record.fingerprint is not None
    assert record.fingerprint.words
    kept = record.fingerprint.model_copy(update={"topic": ("社区", "咖啡")})  # a topic too
    done = done.model_copy(
        update={"records": {**done.records, "a": record.model_copy(update={"fingerprint": kept})}}
    )
    store.create(session)

    # WHEN the new version is saved and read back
    store.save(done, expected_version=1)
    loaded = store.get("t1", session.session_id)

    # THEN the fingerprint is as kept, and a step without one still has none
    assert loaded == done
    assert loaded is not None
    assert loaded.record("a").fingerprint == kept
    assert loaded.record("b").fingerprint is None


# --- save -----------------------------------------------------------------------------------------


def test_save_with_the_current_version_persists_the_new_state(store: SessionStore) -> None:
    session = make_session()
    store.create(session)
    v2 = complete_step(session, "step_1", "第一步的输出")

    store.save(v2, expected_version=1)

    loaded = store.get("t1", session.session_id)
    assert loaded == v2
    assert loaded is not None
    assert loaded.version == 2
    # and the next save builds on it
    v3 = complete_step(v2, "step_2", "第二步的输出")
    store.save(v3, expected_version=2)
    assert store.get("t1", session.session_id) == v3


def test_save_with_a_stale_version_raises_conflict_and_keeps_the_stored_state(
    store: SessionStore,
) -> None:
    session = make_session()
    store.create(session)
    v2 = complete_step(session, "step_1", "先到的输出")
    store.save(v2, expected_version=1)
    late = complete_step(session, "step_1", "后到的输出")  # also built from version 1

    with pytest.raises(ConflictError) as caught:
        store.save(late, expected_version=1)

    assert caught.value.code == "STALE_VERSION"
    assert caught.value.details == {"expected_version": 1, "current_version": 2}
    assert store.get("t1", session.session_id) == v2


def test_save_of_a_deleted_session_raises_not_found(store: SessionStore) -> None:
    session = make_session()
    store.create(session)
    store.delete("t1", session.session_id)

    with pytest.raises(NotFoundError) as caught:
        store.save(complete_step(session, "step_1", "输出"), expected_version=1)

    assert caught.value.code == "SESSION_NOT_FOUND"
    assert caught.value.details == {"session_id": session.session_id}
    assert store.get("t1", session.session_id) is None


def test_save_that_does_not_advance_the_version_is_refused(store: SessionStore) -> None:
    session = make_session()
    store.create(session)

    with pytest.raises(ValueError, match="greater than"):
        store.save(session, expected_version=1)


# --- delete ---------------------------------------------------------------------------------------


def test_delete_returns_true_then_false(store: SessionStore) -> None:
    session = make_session()
    store.create(session)

    assert store.delete("t1", session.session_id) is True
    assert store.get("t1", session.session_id) is None
    assert store.delete("t1", session.session_id) is False


def test_a_deleted_id_can_be_created_again(store: SessionStore) -> None:
    store.create(make_session(session_id="s1"))
    store.delete("t1", "s1")

    store.create(make_session(session_id="s1", target="重新创建"))

    again = store.get("t1", "s1")
    assert again is not None
    assert again.definition.target == "重新创建"


# --- tenants --------------------------------------------------------------------------------------


def test_another_tenant_can_neither_get_save_delete_nor_list_it(store: SessionStore) -> None:
    session = make_session(tenant="t1", session_id="s1", end_user="u1")
    store.create(session)
    intruder = complete_step(session, "step_1", "篡改").model_copy(update={"tenant": "t2"})

    assert store.get("t2", "s1") is None
    with pytest.raises(NotFoundError):
        store.save(intruder, expected_version=1)
    assert store.delete("t2", "s1") is False
    assert store.list("t2").items == []
    assert store.list("t2", end_user="u1").items == []

    assert store.get("t1", "s1") == session


# --- list -----------------------------------------------------------------------------------------


def test_list_summarizes_sessions_newest_first(store: SessionStore) -> None:
    old = make_session(session_id="old", created_at=T0 - 30)
    mid = make_session(session_id="mid", created_at=T0 - 20)
    new = make_session(session_id="new", created_at=T0 - 10, target="长" * 200)
    for session in (old, mid, new):
        store.create(session)
    mid = complete_step(mid, "step_1", "输出")
    store.save(mid, expected_version=1)

    page = store.list("t1")

    assert [s.session_id for s in page.items] == ["new", "mid", "old"]
    assert page.items == [summarize(new), summarize(mid), summarize(old)]
    assert page.items[0].target == "长" * 80
    assert (page.items[1].completed, page.items[1].total, page.items[1].version) == (1, 2, 2)
    assert page.next_cursor is None


def test_list_pages_cover_every_session_exactly_once_in_order(store: SessionStore) -> None:
    # Seven sessions, three of them created in the same instant: ties are ordered by id.
    times = [T0 - 1, T0 - 5, T0 - 5, T0 - 5, T0 - 9, T0 - 2, T0 - 7]
    for i, created_at in enumerate(times):
        store.create(make_session(session_id=f"s{i}", created_at=created_at))
    expected = sorted(
        ((t, f"s{i}") for i, t in enumerate(times)),
        reverse=True,
    )

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list("t1", limit=3, cursor=cursor)
        pages += 1
        assert len(page.items) <= 3
        seen += [s.session_id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [sid for _, sid in expected]
    assert pages == 3  # 3 + 3 + 1, with no empty page at the end


def test_a_full_last_page_has_no_next_cursor(store: SessionStore) -> None:
    for i in range(4):
        store.create(make_session(session_id=f"s{i}", created_at=T0 - i))

    first = store.list("t1", limit=2)
    second = store.list("t1", limit=2, cursor=first.next_cursor)

    assert [s.session_id for s in first.items] == ["s0", "s1"]
    assert [s.session_id for s in second.items] == ["s2", "s3"]
    assert second.next_cursor is None


def test_pages_stay_consistent_when_a_session_is_created_between_them(
    store: SessionStore,
) -> None:
    for i in range(4):
        store.create(make_session(session_id=f"s{i}", created_at=T0 - 10 - i))
    first = store.list("t1", limit=2)

    store.create(make_session(session_id="newer", created_at=T0))
    second = store.list("t1", limit=2, cursor=first.next_cursor)

    assert [s.session_id for s in second.items] == ["s2", "s3"]


def test_list_filters_by_end_user(store: SessionStore) -> None:
    store.create(make_session(session_id="a1", end_user="alice", created_at=T0 - 1))
    store.create(make_session(session_id="b1", end_user="bob", created_at=T0 - 2))
    store.create(make_session(session_id="a2", end_user="alice", created_at=T0 - 3))
    store.create(make_session(session_id="n1", end_user=None, created_at=T0 - 4))

    alice = store.list("t1", end_user="alice")
    first = store.list("t1", end_user="alice", limit=1)
    rest = store.list("t1", end_user="alice", limit=1, cursor=first.next_cursor)

    assert [s.session_id for s in alice.items] == ["a1", "a2"]
    assert [s.session_id for s in first.items + rest.items] == ["a1", "a2"]
    assert rest.next_cursor is None
    assert len(store.list("t1").items) == 4


def test_list_by_end_user_tells_apart_names_too_long_for_a_key(store: SessionStore) -> None:
    # 1000 characters of 3 bytes: longer than the 2 KB DynamoDB allows an index key
    long_name = "用" * 999
    one, other = long_name + "甲", long_name + "乙"
    store.create(make_session(session_id="s1", end_user=one, created_at=T0 - 1))
    store.create(make_session(session_id="s2", end_user=other, created_at=T0 - 2))
    store.create(make_session(session_id="s3", end_user=one, created_at=T0 - 3))

    first = store.list("t1", end_user=one, limit=1)
    rest = store.list("t1", end_user=one, limit=1, cursor=first.next_cursor)

    assert [s.session_id for s in first.items + rest.items] == ["s1", "s3"]
    assert rest.next_cursor is None
    assert [s.end_user for s in store.list("t1", end_user=other).items] == [other]


@pytest.mark.parametrize("end_user", [None, "u1"])
def test_a_cursor_before_or_after_every_session_lists_none_or_all(
    store: SessionStore, end_user: str | None
) -> None:
    store.create(make_session(session_id="s1", end_user="u1", created_at=T0))

    before_all = store.list("t1", end_user=end_user, cursor=encode_cursor(-1.0, "s1"))
    after_all = store.list("t1", end_user=end_user, cursor=encode_cursor(T0 * 1000, "s1"))

    assert before_all.items == []
    assert [s.session_id for s in after_all.items] == ["s1"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "",
        "%%%",
        "bm90LWpzb24",  # base64 of "not-json"
        "WzEsMiwzXQ",  # base64 of [1,2,3]
        "WyJ4IiwiczEiXQ",  # base64 of ["x","s1"]
        "WyJOYU4iLCJzMSJd",  # base64 of ["NaN","s1"]
        "W3RydWUsInMxIl0",  # base64 of [true,"s1"]
    ],
)
def test_an_invalid_cursor_is_an_invalid_field(store: SessionStore, cursor: str) -> None:
    store.create(make_session())

    with pytest.raises(InvalidRequestError) as caught:
        store.list("t1", cursor=cursor)

    assert caught.value.code == "INVALID_FIELD"
    assert caught.value.details["field"] == "cursor"


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_a_limit_out_of_range_is_an_invalid_field(store: SessionStore, limit: int) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        store.list("t1", limit=limit)

    assert caught.value.details["field"] == "limit"


# --- expiry ---------------------------------------------------------------------------------------


def test_an_expired_session_is_gone_for_get_list_save_and_delete(
    store: SessionStore, clock: FakeClock
) -> None:
    short = make_session(session_id="short", expires_at=T0 + 60)
    keeps = make_session(session_id="keeps", expires_at=None, created_at=T0 - 1)
    store.create(short)
    store.create(keeps)
    assert store.get("t1", "short") == short

    clock.advance(60)  # expires_at <= now: expired at the very instant

    assert store.get("t1", "short") is None
    assert [s.session_id for s in store.list("t1").items] == ["keeps"]
    with pytest.raises(NotFoundError):
        store.save(complete_step(short, "step_1", "太迟了"), expected_version=1)
    assert store.delete("t1", "short") is False
    assert store.get("t1", "keeps") == keeps


def test_the_id_of_an_expired_session_can_be_reused(store: SessionStore, clock: FakeClock) -> None:
    store.create(make_session(session_id="s1", expires_at=T0 + 10))
    clock.advance(DAY)

    fresh = make_session(session_id="s1", created_at=clock.now, target="新的会话")
    store.create(fresh)

    assert store.get("t1", "s1") == fresh


# --- health ---------------------------------------------------------------------------------------


def test_ping_succeeds_on_a_usable_store(store: SessionStore) -> None:
    store.ping()  # raises StoreError if not

    store.create(make_session())
    store.ping()


# --- concurrency ----------------------------------------------------------------------------------


def test_racing_saves_on_one_version_have_exactly_one_winner(store: SessionStore) -> None:
    # GIVEN a session at version 1 and 20 threads that each load it and finish a step their way
    session = make_session(steps=2)
    store.create(session)
    racers = 20
    barrier = threading.Barrier(racers)
    won: list[int] = []
    lost: list[ConflictError] = []
    other: list[BaseException] = []
    attempts: dict[int, object] = {}
    guard = threading.Lock()

    def race(n: int) -> None:
        loaded = store.get("t1", session.session_id)
        assert loaded is not None
        mine = complete_step(loaded, "step_1", f"线程 {n} 的输出 " * 50)
        with guard:
            attempts[n] = mine
        barrier.wait()  # WHEN they all save at once
        try:
            store.save(mine, expected_version=1)
        except ConflictError as exc:
            with guard:
                lost.append(exc)
        except BaseException as exc:
            with guard:
                other.append(exc)
        else:
            with guard:
                won.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # THEN exactly one wins, every other one is told its version is stale
    assert other == []
    assert len(won) == 1
    assert len(lost) == racers - 1
    assert {exc.code for exc in lost} == {"STALE_VERSION"}
    assert all(exc.details == {"expected_version": 1, "current_version": 2} for exc in lost)
    # and the stored session is the winner's, whole
    assert store.get("t1", session.session_id) == attempts[won[0]]
