"""FakeOTSClient keeps the documented semantics the Tablestore store relies on.

The fake stands in for Tablestore in the contract suite, so its own rules are tested here: row
and column conditions, whole-row puts, batches that are not atomic, range order and paging, and
the limits the service refuses.
"""

from __future__ import annotations

from typing import Any

import pytest
from tablestore import (
    INF_MAX,
    INF_MIN,
    BatchGetRowRequest,
    BatchWriteRowRequest,
    ComparatorType,
    CompositeColumnCondition,
    Condition,
    Direction,
    LogicalOperator,
    OTSServiceError,
    PutRowItem,
    Row,
    RowExistenceExpectation,
    SingleColumnCondition,
    TableInBatchGetRowItem,
    TableInBatchWriteRowItem,
)

from tests.contract.tablestore_fake import FakeOTSClient, create_tablestore_table

IGNORE = RowExistenceExpectation.IGNORE
EXIST = RowExistenceExpectation.EXPECT_EXIST
NOT_EXIST = RowExistenceExpectation.EXPECT_NOT_EXIST


@pytest.fixture
def client() -> FakeOTSClient:
    fake = FakeOTSClient()
    create_tablestore_table(fake, "t")
    return fake


def key(pk: str, sk: str = "x") -> list[tuple[str, str]]:
    return [("pk", pk), ("sk", sk)]


def code_of(call: Any) -> str | None:
    """The Tablestore error code ``call`` raised, or ``None``."""
    try:
        call()
    except OTSServiceError as exc:
        return str(exc.get_error_code())
    return None


def single(name: str, value: Any, op: int, missing: bool = False) -> SingleColumnCondition:
    return SingleColumnCondition(name, value, op, pass_if_missing=missing)


@pytest.mark.parametrize(
    ("exists", "condition", "passes"),
    [
        (False, Condition(EXIST), False),
        (True, Condition(EXIST), True),
        (False, Condition(NOT_EXIST), True),
        (True, Condition(NOT_EXIST), False),
        (True, Condition(EXIST, single("v", 1, ComparatorType.EQUAL)), True),
        (True, Condition(EXIST, single("v", 2, ComparatorType.EQUAL)), False),
        (True, Condition(EXIST, single("v", 0, ComparatorType.GREATER_THAN)), True),
        (True, Condition(EXIST, single("gone", 1, ComparatorType.EQUAL)), False),
        (True, Condition(EXIST, single("gone", 1, ComparatorType.EQUAL, missing=True)), True),
    ],
)
def test_row_and_column_conditions(
    client: FakeOTSClient, exists: bool, condition: Condition, passes: bool
) -> None:
    if exists:
        client.put_row("t", Row(key("a"), [("v", 1)]))
    before = client.cells("t", key("a"))

    code = code_of(lambda: client.put_row("t", Row(key("a"), [("v", 9)]), condition))

    assert code == (None if passes else "OTSConditionCheckFail")
    assert client.cells("t", key("a")) == ({"v": 9} if passes else before)


def test_composite_conditions_and_or_not(client: FakeOTSClient) -> None:
    client.put_row("t", Row(key("a"), [("v", 1), ("s", "x")]))

    def composite(op: int, *subs: Any) -> CompositeColumnCondition:
        condition = CompositeColumnCondition(op)
        for sub in subs:
            condition.add_sub_condition(sub)
        return condition

    yes, no = single("v", 1, ComparatorType.EQUAL), single("s", "y", ComparatorType.EQUAL)
    update = Row(key("a"), {"put": [("w", 1)]})
    for condition, passes in [
        (composite(LogicalOperator.AND, yes, no), False),
        (composite(LogicalOperator.OR, yes, no), True),
        (composite(LogicalOperator.NOT, no), True),
    ]:
        code = code_of(lambda c=condition: client.update_row("t", update, Condition(EXIST, c)))
        assert code == (None if passes else "OTSConditionCheckFail")


def test_a_failed_condition_is_403_condition_check_fail(client: FakeOTSClient) -> None:
    with pytest.raises(OTSServiceError) as caught:
        client.update_row("t", Row(key("a"), {"put": [("v", 1)]}), Condition(EXIST))

    assert caught.value.get_http_status() == 403
    assert caught.value.get_error_code() == "OTSConditionCheckFail"
    assert caught.value.get_error_message() == "Condition check failed."


def test_put_replaces_the_row_update_merges_into_it(client: FakeOTSClient) -> None:
    client.put_row("t", Row(key("a"), [("a", 1), ("b", 2)]))
    client.put_row("t", Row(key("a"), [("c", 3)]))
    client.update_row("t", Row(key("a"), {"put": [("d", 4)]}), Condition(IGNORE))
    client.update_row("t", Row(key("b"), {"put": [("e", 5)]}), Condition(IGNORE))

    assert client.cells("t", key("a")) == {"c": 3, "d": 4}
    assert client.cells("t", key("b")) == {"e": 5}


def test_get_row_returns_columns_sorted_binary_as_bytearray(client: FakeOTSClient) -> None:
    client.put_row("t", Row(key("a"), [("z", "文本"), ("b", bytearray(b"\x00\x01")), ("m", 1.5)]))

    _, row, token = client.get_row("t", key("a"), None, max_version=1)
    _, missing, _ = client.get_row("t", key("nope"), None, max_version=1)

    assert row.primary_key == key("a")
    assert [(c[0], c[1]) for c in row.attribute_columns] == [
        ("b", bytearray(b"\x00\x01")),
        ("m", 1.5),
        ("z", "文本"),
    ]
    assert token is None
    assert missing is None


def test_batch_write_is_not_atomic_and_reports_failed_rows(client: FakeOTSClient) -> None:
    client.put_row("t", Row(key("taken"), [("v", 1)]))
    request = BatchWriteRowRequest()
    request.add(
        TableInBatchWriteRowItem(
            "t",
            [
                PutRowItem(Row(key("new"), [("v", 1)]), Condition(NOT_EXIST)),
                PutRowItem(Row(key("taken"), [("v", 2)]), Condition(NOT_EXIST)),
            ],
        )
    )

    response = client.batch_write_row(request)

    assert [item.is_ok for item in response.get_put_by_table("t")] == [True, False]
    assert response.get_failed_of_put()[0].error_code == "OTSConditionCheckFail"
    assert client.cells("t", key("new")) == {"v": 1}
    assert client.cells("t", key("taken")) == {"v": 1}


def test_a_batch_may_not_name_a_row_twice(client: FakeOTSClient) -> None:
    request = BatchGetRowRequest()
    request.add(TableInBatchGetRowItem("t", [key("a"), key("a")], max_version=1))

    assert code_of(lambda: client.batch_get_row(request)) == "OTSInvalidPK"


def test_get_range_orders_pages_and_points_at_the_next_row(client: FakeOTSClient) -> None:
    client.page_rows = 2
    for sk in ["b", "d", "a", "c", "e"]:
        client.put_row("t", Row(key("p", sk), [("v", 1)]))
    client.put_row("t", Row(key("q", "a"), [("v", 1)]))  # another partition: never listed

    _, nxt, rows, _ = client.get_range(
        "t", Direction.BACKWARD, key("p", INF_MAX), key("p", INF_MIN), max_version=1
    )
    _, last, more, _ = client.get_range(
        "t", Direction.BACKWARD, nxt, key("p", INF_MIN), limit=5, max_version=1
    )
    _, _, forward, _ = client.get_range(
        "t", Direction.FORWARD, key("p", "b"), key("p", "d"), max_version=1
    )

    assert [r.primary_key[1][1] for r in rows] == ["e", "d"]
    assert nxt == key("p", "c")
    assert [r.primary_key[1][1] for r in more] == ["c", "b"]
    assert last == key("p", "a")
    assert [r.primary_key[1][1] for r in forward] == ["b", "c"]
    wrong_way = code_of(
        lambda: client.get_range(
            "t", Direction.FORWARD, key("p", "d"), key("p", "b"), max_version=1
        )
    )
    assert wrong_way == "OTSParameterInvalid"


@pytest.mark.parametrize(
    ("row", "code"),
    [
        (Row(key("k" * 1025), [("v", 1)]), "OTSParameterInvalid"),  # STRING key over 1 KB
        (Row(key("a"), [("v", "x" * (2 * 1024 * 1024 + 1))]), "OTSParameterInvalid"),
        (Row(key("a"), [(f"c{i}", bytearray(1_500_000)) for i in range(3)]), "OTSParameterInvalid"),
        (Row(key("a"), [(f"c{i}", 1) for i in range(1025)]), "OTSParameterInvalid"),
        (Row(key("a"), [("bad-name", 1)]), "OTSParameterInvalid"),
        (Row([("pk", "a")], [("v", 1)]), "OTSInvalidPK"),
    ],
)
def test_the_limits_the_service_refuses(client: FakeOTSClient, row: Row, code: str) -> None:
    assert code_of(lambda: client.put_row("t", row, Condition(IGNORE))) == code
    assert client.tables["t"].rows == {}


def test_an_injected_failure_changes_nothing_and_is_logged(client: FakeOTSClient) -> None:
    from tests.contract.tablestore_fake import service_error

    client.fail("PutRow", service_error(503, "OTSServerBusy", "Server is busy."), times=1)

    assert code_of(lambda: client.put_row("t", Row(key("a"), [("v", 1)]))) == "OTSServerBusy"
    assert client.cells("t", key("a")) is None
    client.put_row("t", Row(key("a"), [("v", 1)]))  # only once
    assert [(c.operation, c.error) for c in client.calls[-2:]] == [
        ("PutRow", "OTSServerBusy"),
        ("PutRow", None),
    ]
