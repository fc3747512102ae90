"""The step state machine as a transition table."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from taskchain.errors import InvalidTransitionError


class StepState(StrEnum):
    """Where a step is in its life: waiting, workable, or finished one of three ways."""

    PENDING = "pending"
    READY = "ready"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


# A rejected attempt keeps a step READY (READY -> READY): the attempt is counted, the state is not
# changed. PENDING -> SKIPPED is how a failed step's dependents, or a step the caller skips before
# it is reachable, become gaps.
TRANSITIONS: Mapping[StepState, frozenset[StepState]] = MappingProxyType(
    {
        StepState.PENDING: frozenset({StepState.READY, StepState.SKIPPED}),
        StepState.READY: frozenset(
            {StepState.READY, StepState.COMPLETED, StepState.FAILED, StepState.SKIPPED}
        ),
        StepState.COMPLETED: frozenset(),
        StepState.FAILED: frozenset(),
        StepState.SKIPPED: frozenset(),
    }
)

FINISHED: frozenset[StepState] = frozenset(
    {StepState.COMPLETED, StepState.FAILED, StepState.SKIPPED}
)


def check_transition(step_id: str, src: StepState, dst: StepState) -> StepState:
    """Return ``dst`` if the table allows ``src -> dst``; raise :class:`InvalidTransitionError`."""
    if dst not in TRANSITIONS[src]:
        raise InvalidTransitionError(step_id, src.value, dst.value)
    return dst
