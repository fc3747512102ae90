"""Properties of the DAG and the engine over random chains and random sequences of operations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskchain import engine
from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import TaskchainError
from taskchain.graph import chain_order, descendants
from taskchain.models import Session, StepSpec
from taskchain.states import FINISHED, StepState
from tests.factories import T0, bad_output, build_chain, custom_step, passing_output, start_chain

EXAMPLES = settings(max_examples=60, deadline=None)
CAPABILITY_SETS = [(), ("理解分析",), ("逻辑推理",), ("风险评估", "方案设计")]


@dataclass(frozen=True)
class Dag:
    """A random DAG: ``deps[i]`` are indices below ``i``; ``listed`` the order steps are given."""

    deps: tuple[frozenset[int], ...]
    listed: tuple[int, ...]

    def specs(self) -> list[StepSpec]:
        """The steps as specs, in the listed order."""
        return [
            StepSpec(
                id=f"s{i}",
                name=f"s{i}",
                description="",
                capabilities=(),
                dependencies=tuple(f"s{d}" for d in sorted(self.deps[i])),
            )
            for i in self.listed
        ]


@st.composite
def dags(draw: st.DrawFn, max_steps: int = 20) -> Dag:
    """Random step count, random edges only from earlier to later indices, shuffled listing."""
    n = draw(st.integers(1, max_steps))
    deps = tuple(
        draw(st.frozensets(st.integers(0, i - 1), max_size=4)) if i else frozenset()
        for i in range(n)
    )
    listed = tuple(draw(st.permutations(range(n))))
    return Dag(deps, listed)


def chain_from(
    dag: Dag, data: st.DataObject, *, mode: str, keep_going: bool
) -> tuple[Session, CapabilityRegistry]:
    """A started session of ``dag`` as a custom chain, each step with random checks/attempts."""
    steps = [
        custom_step(
            f"s{i}",
            *(f"s{d}" for d in sorted(dag.deps[i])),
            capabilities=data.draw(st.sampled_from(CAPABILITY_SETS)),
            max_attempts=data.draw(st.integers(1, 3)),
        )
        for i in dag.listed
    ]
    definition, registry = build_chain(
        steps=steps, execution_mode=mode, continue_on_failure=keep_going
    )
    return start_chain(definition), registry


def assert_ready_only_after_dependencies(session: Session) -> None:
    """No step is READY before every one of its dependencies is finished."""
    for step in session.definition.steps:
        if session.record(step.id).state is StepState.READY:
            for dep in step.dependencies:
                assert session.record(dep).state in FINISHED, (step.id, dep)


# --- the DAG ----------------------------------------------------------------------------------


@EXAMPLES
@given(dags())
def test_chain_order_is_topological_and_complete(dag: Dag) -> None:
    specs = dag.specs()
    order = chain_order(specs)
    assert sorted(order) == sorted(s.id for s in specs)
    assert len(order) == len(set(order))
    position = {step_id: i for i, step_id in enumerate(order)}
    for step in specs:
        for dep in step.dependencies:
            assert position[dep] < position[step.id]
    # A listing that is already topological is kept as it is.
    listed = [s.id for s in specs]
    listed_position = {step_id: i for i, step_id in enumerate(listed)}
    if all(listed_position[d] < listed_position[s.id] for s in specs for d in s.dependencies):
        assert order == tuple(listed)


@EXAMPLES
@given(dags(), st.sampled_from(["sequential", "parallel"]), st.data())
def test_no_step_becomes_ready_before_its_dependencies_finish(
    dag: Dag, mode: str, data: st.DataObject
) -> None:
    session, registry = chain_from(dag, data, mode=mode, keep_going=True)
    assert_ready_only_after_dependencies(session)
    steps_left = len(session.records)
    while session.status == "active":
        ready = engine.ready_steps(session)
        assert ready, "an active session always has a step to work on"
        if mode == "sequential":
            assert len(ready) == 1
        step_id = data.draw(st.sampled_from(ready))
        if data.draw(st.booleans()):
            outcome = engine.submit(
                session,
                step_id,
                passing_output(session, step_id, registry),
                now=T0,
                registry=registry,
            )
            assert outcome.accepted, [f for f in outcome.feedback if not f.passed]
            session = outcome.session
        else:
            session = engine.skip(session, step_id, "not needed", now=T0)
        assert_ready_only_after_dependencies(session)
        steps_left -= 1
        assert steps_left >= 0
    assert all(r.finished for r in session.records.values())
    assert session.status == ended_status(session)


# --- random operations ------------------------------------------------------------------------

OPERATIONS = ["good", "bad", "skip", "submit_any", "error"]


def expected_error(session: Session, op: str, step_id: str, version: int | None) -> str | None:
    """The error code the engine owes for ``op`` on ``step_id``, or ``None`` for success."""
    if session.status != "active":
        return "SESSION_CLOSED"
    if step_id not in session.records:
        return "STEP_NOT_FOUND"
    if version is not None and version != session.version:
        return "STALE_VERSION"
    record = session.record(step_id)
    if record.finished:
        return "STEP_ALREADY_DONE"
    if record.state is not StepState.READY:  # skip too: only a ready step can be skipped
        return "STEP_NOT_READY"
    return None


def ended_status(session: Session) -> str:
    """The status a chain whose steps have all finished owes: what it says about its steps."""
    completed = sum(r.state is StepState.COMPLETED for r in session.records.values())
    if completed == len(session.records):
        return "completed"
    return "completed_with_gaps" if completed else "failed"


def check_invariants(session: Session, previous: Session) -> None:
    """What must hold after every successful operation."""
    definition = session.definition
    keep_going = definition.config.continue_on_failure
    for step in definition.steps:
        record = session.record(step.id)
        old = previous.record(step.id)
        assert record.attempts <= step.max_attempts
        if record.state is StepState.COMPLETED:
            assert record.output is not None
        if old.finished:
            assert (record.state, record.output) == (old.state, old.output)
        if record.state is StepState.FAILED and keep_going:
            for child in descendants(definition.steps, step.id):
                assert session.record(child).finished
    assert_ready_only_after_dependencies(session)
    ready = engine.ready_steps(session)
    if definition.config.execution_mode == "sequential":
        assert len(ready) <= 1
    everything_finished = all(r.finished for r in session.records.values())
    any_failed = any(r.state is StepState.FAILED for r in session.records.values())
    if keep_going or not any_failed:
        assert session.status == (ended_status(session) if everything_finished else "active")
    else:
        assert session.status == "failed"
    if session.status == "active":
        assert ready, "an active session always has a step to work on"


def apply(
    session: Session,
    registry: CapabilityRegistry,
    op: str,
    step_id: str,
    version: int | None,
    good: bool,
) -> Session:
    """Perform ``op``; a submit of a good output must be accepted, of a bad one rejected."""
    if op == "skip":
        return engine.skip(session, step_id, "", now=T0, expected_version=version)
    if op == "error":
        return engine.record_error(session, step_id, "timeout", now=T0, executor="x")
    output = (
        passing_output(session, step_id, registry)
        if good and step_id in session.records
        else bad_output(session.language)
    )
    outcome = engine.submit(
        session, step_id, output, now=T0, registry=registry, expected_version=version
    )
    assert outcome.accepted is good, outcome.feedback
    return outcome.session


@EXAMPLES
@given(
    dags(max_steps=8),
    st.sampled_from(["sequential", "parallel"]),
    st.booleans(),
    st.data(),
)
def test_random_operations_keep_the_invariants(
    dag: Dag, mode: str, keep_going: bool, data: st.DataObject
) -> None:
    session, registry = chain_from(dag, data, mode=mode, keep_going=keep_going)
    ids = [*session.records, "nope"]
    for _ in range(data.draw(st.integers(1, 30))):
        op = data.draw(st.sampled_from(OPERATIONS))
        ready = engine.ready_steps(session)
        step_id = data.draw(st.sampled_from(ready if op in ("good", "bad") and ready else ids))
        version = data.draw(
            st.sampled_from([None, session.version, session.version - 1, session.version + 1])
        )
        good = op == "good" or (op == "submit_any" and data.draw(st.booleans()))
        expected = expected_error(session, op, step_id, None if op == "error" else version)
        before = session.model_dump()
        if expected is not None:
            # Only the error the state calls for, as a TaskchainError, and nothing changed.
            with pytest.raises(TaskchainError) as caught:
                apply(session, registry, op, step_id, version, good)
            assert caught.value.code == expected, (op, step_id, version)
            assert session.model_dump() == before
            continue
        new = apply(session, registry, op, step_id, version, good)
        assert new.version == session.version + 1
        assert session.model_dump() == before
        check_invariants(new, session)
        session = new
