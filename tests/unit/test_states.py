"""The step state machine: the transition table and its complement."""

from __future__ import annotations

import itertools

import pytest

from taskchain.errors import ConflictError, InvalidTransitionError
from taskchain.states import FINISHED, TRANSITIONS, StepState, check_transition

ALL_MOVES = list(itertools.product(StepState, StepState))
ALLOWED = [(src, dst) for src, dst in ALL_MOVES if dst in TRANSITIONS[src]]
FORBIDDEN = [(src, dst) for src, dst in ALL_MOVES if dst not in TRANSITIONS[src]]


def test_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(StepState)


def test_table_is_the_documented_machine() -> None:
    # Pending steps become ready or are skipped; a ready step is retried, completed, failed or
    # skipped; finished states are final.
    assert set(ALLOWED) == {
        (StepState.PENDING, StepState.READY),
        (StepState.PENDING, StepState.SKIPPED),
        (StepState.READY, StepState.READY),
        (StepState.READY, StepState.COMPLETED),
        (StepState.READY, StepState.FAILED),
        (StepState.READY, StepState.SKIPPED),
    }


@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=[f"{s}->{d}" for s, d in ALLOWED])
def test_allowed_move_passes(src: StepState, dst: StepState) -> None:
    assert check_transition("step_1", src, dst) is dst


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN, ids=[f"{s}->{d}" for s, d in FORBIDDEN])
def test_forbidden_move_raises_with_step_and_states(src: StepState, dst: StepState) -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        check_transition("step_1", src, dst)
    error = caught.value
    assert (error.step_id, error.src, error.dst) == ("step_1", src.value, dst.value)
    assert error.details == {"step_id": "step_1", "from": src.value, "to": dst.value}
    assert isinstance(error, ConflictError)
    assert "step_1" in error.message("en")
    assert src.value in error.message("en")
    assert dst.value in error.message("en")


def test_finished_states_are_the_three_ends() -> None:
    assert frozenset({StepState.COMPLETED, StepState.FAILED, StepState.SKIPPED}) == FINISHED
