"""The dependency DAG: chain order, its errors, descendants and the eligible set."""

from __future__ import annotations

import itertools

import pytest

from taskchain.errors import ChainError
from taskchain.graph import chain_order, descendants, eligible
from taskchain.models import StepRecord, StepSpec
from taskchain.states import StepState


def spec(step_id: str, *dependencies: str) -> StepSpec:
    """A step with ``dependencies`` and nothing else of interest."""
    return StepSpec(
        id=step_id, name=step_id, description="", capabilities=(), dependencies=dependencies
    )


def chain(text: str) -> list[StepSpec]:
    """Steps from ``"a b<a c<a,b"``: ``b<a`` is step b depending on a."""
    out = []
    for token in text.split():
        step_id, _, deps = token.partition("<")
        out.append(spec(step_id, *(d for d in deps.split(",") if d)))
    return out


# --- chain order ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listed",
    [
        "a",
        "a b c",  # independent steps keep their listed order
        "c b a",
        "a b<a c<b d<c",
        "a b c<a,b d<c",
        "b a c<a d<b e<c,d",
        "x y<x a z<a,y",  # an independent step listed between dependent ones stays there
    ],
)
def test_listed_topological_order_is_kept(listed: str) -> None:
    steps = chain(listed)
    assert chain_order(steps) == tuple(s.id for s in steps)


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ("b<a a", "a b"),
        ("c<b b<a a", "a b c"),
        ("d<a,b a b c", "a b d c"),  # d moves only as far as its dependencies require
        ("x c<b a b<a", "x a b c"),
        ("s<r r<q q p", "q r s p"),
    ],
)
def test_listed_order_that_is_not_topological_is_fixed(listed: str, expected: str) -> None:
    steps = chain(listed)
    order = chain_order(steps)
    assert order == tuple(expected.split())
    position = {step_id: i for i, step_id in enumerate(order)}
    for step in steps:
        for dep in step.dependencies:
            assert position[dep] < position[step.id]


def test_duplicate_dependency_entries_are_harmless() -> None:
    assert chain_order([spec("a"), spec("b", "a", "a")]) == ("a", "b")


def test_twenty_steps_are_allowed() -> None:
    steps = [spec(f"s{i}", *([f"s{i - 1}"] if i else [])) for i in range(20)]
    assert chain_order(steps) == tuple(f"s{i}" for i in range(20))


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "details"),
    [
        pytest.param([], {}, id="empty"),
        pytest.param(
            [spec(f"s{i}") for i in range(21)], {"limit": 20, "actual": 21}, id="too-many"
        ),
        pytest.param(chain("a b a"), {"step_id": "a"}, id="duplicate-id"),
        pytest.param(
            chain("a b<a c<zz"),
            {"step_id": "c", "dependency": "zz", "known_steps": ["a", "b", "c"]},
            id="unknown-dependency",
        ),
        pytest.param(chain("a b<b"), {"step_id": "b", "cycle": ["b", "b"]}, id="self-dependency"),
    ],
)
def test_invalid_chain_is_rejected_with_details(
    steps: list[StepSpec], details: dict[str, object]
) -> None:
    with pytest.raises(ChainError) as caught:
        chain_order(steps)
    assert caught.value.code == "INVALID_CUSTOM_CHAIN"
    assert caught.value.details == details


def test_unknown_dependency_message_names_it_and_lists_known_steps() -> None:
    with pytest.raises(ChainError) as caught:
        chain_order(chain("intro body<intro end<missing_step"))
    for language in ("zh", "en"):
        message = caught.value.message(language)
        assert "missing_step" in message
        assert all(known in message for known in ("intro", "body", "end"))


@pytest.mark.parametrize(
    "listed",
    [
        "a<b b<a",
        "a<c b<a c<b",
        "start a<start,d b<a c<b d<c",  # the cycle hangs off an acyclic part
        "p q<p r<q,t s<r t<s",
    ],
)
def test_cycle_is_reported_as_a_real_cycle_in_execution_order(listed: str) -> None:
    steps = chain(listed)
    deps = {s.id: set(s.dependencies) for s in steps}
    with pytest.raises(ChainError) as caught:
        chain_order(steps)
    cycle = caught.value.details["cycle"]
    assert cycle[0] == cycle[-1]
    assert len(set(cycle)) == len(cycle) - 1 >= 2
    # Each step has to run before the next one: the next one depends on it.
    for before, after in itertools.pairwise(cycle):
        assert before in deps[after], (before, after, cycle)
    for language, arrow in (("zh", " → "), ("en", " -> ")):
        assert arrow.join(cycle) in caught.value.message(language)


# --- descendants and eligible -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "step_id", "expected"),
    [
        ("a b<a c<b", "a", {"b", "c"}),
        ("a b<a c<b", "b", {"c"}),
        ("a b<a c<b", "c", set()),
        ("a b c<a d<c,b e", "a", {"c", "d"}),
        ("a b c<a d<c,b e", "b", {"d"}),
        ("a b<a c<a d<b,c", "a", {"b", "c", "d"}),  # a diamond counts d once
        ("a b", "zz", set()),
    ],
)
def test_descendants_are_every_direct_and_indirect_dependent(
    listed: str, step_id: str, expected: set[str]
) -> None:
    assert descendants(chain(listed), step_id) == expected


P, R, C, F, S = (
    StepState.PENDING,
    StepState.READY,
    StepState.COMPLETED,
    StepState.FAILED,
    StepState.SKIPPED,
)


@pytest.mark.parametrize(
    ("listed", "states", "expected"),
    [
        ("a b<a c", {"a": P, "b": P, "c": P}, ["a", "c"]),
        ("a b<a c", {"a": R, "b": P, "c": P}, ["a", "c"]),  # ready steps stay eligible
        ("a b<a c", {"a": C, "b": P, "c": C}, ["b"]),
        ("a b<a c", {"a": F, "b": P, "c": P}, ["b", "c"]),  # failed counts as finished
        ("a b<a c", {"a": S, "b": P, "c": R}, ["b", "c"]),  # and so does skipped
        ("a b c<a,b", {"a": C, "b": R, "c": P}, ["b"]),  # c waits for all its dependencies
        ("a b c<a,b", {"a": C, "b": C, "c": P}, ["c"]),
        ("a b c<a,b", {"a": C, "b": C, "c": C}, []),
        ("c<a,b b a", {"a": P, "b": P, "c": P}, ["b", "a"]),  # in the listed order given
    ],
)
def test_eligible_steps_are_unfinished_with_finished_dependencies(
    listed: str, states: dict[str, StepState], expected: list[str]
) -> None:
    records = {step_id: StepRecord(step_id=step_id, state=st) for step_id, st in states.items()}
    assert eligible(chain(listed), records) == expected
