"""The dependency DAG of a chain, on graphlib: validation, chain order, ready set."""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Mapping, Sequence

from taskchain.errors import chain_error
from taskchain.limits import MAX_STEPS
from taskchain.models import StepRecord, StepSpec
from taskchain.states import FINISHED, StepState


def chain_order(steps: Sequence[StepSpec]) -> tuple[str, ...]:
    """Validate the chain's dependencies and return its order.

    The order is topological and, among the steps that could come next, keeps the order in which
    the steps were listed; so a chain listed in a valid order keeps it.

    Raises
    ------
    ChainError
        Empty chain, more than 20 steps, duplicate id, unknown or self dependency, or a cycle
        (``details["cycle"]`` names it, first step repeated last).
    """
    if not steps:
        raise chain_error("任务链至少需要一个步骤", "a chain needs at least one step")
    if len(steps) > MAX_STEPS:
        raise chain_error(
            f"任务链最多 {MAX_STEPS} 个步骤，收到 {len(steps)} 个",
            f"a chain has at most {MAX_STEPS} steps, got {len(steps)}",
            limit=MAX_STEPS,
            actual=len(steps),
        )
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.id in index:
            raise chain_error(
                f"步骤 id 重复：{step.id}", f"duplicate step id: {step.id}", step_id=step.id
            )
        index[step.id] = i
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for step in steps:
        for dep in step.dependencies:
            if dep == step.id:
                raise chain_error(
                    f"步骤 {step.id} 不能依赖自己",
                    f"step {step.id} depends on itself",
                    step_id=step.id,
                    cycle=[step.id, step.id],
                )
            if dep not in index:
                raise chain_error(
                    f"步骤 {step.id} 依赖未知步骤 {dep}（已有：{', '.join(index)}）",
                    f"step {step.id} depends on unknown step {dep} (known: {', '.join(index)})",
                    step_id=step.id,
                    dependency=dep,
                    known_steps=list(index),
                )
        sorter.add(step.id, *step.dependencies)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the node that depends on it: execution order already.
        cycle = [str(node) for node in exc.args[1]]
        raise chain_error(
            f"依赖存在循环：{' → '.join(cycle)}",
            f"dependency cycle: {' -> '.join(cycle)}",
            cycle=cycle,
        ) from None
    order: list[str] = []
    heap: list[tuple[int, str]] = []
    while sorter.is_active():
        for node in sorter.get_ready():
            heapq.heappush(heap, (index[node], node))
        _, node = heapq.heappop(heap)
        order.append(node)
        sorter.done(node)
    return tuple(order)


def descendants(steps: Iterable[StepSpec], step_id: str) -> set[str]:
    """Every step that depends on ``step_id``, directly or through other steps."""
    children: dict[str, list[str]] = {}
    for step in steps:
        for dep in step.dependencies:
            children.setdefault(dep, []).append(step.id)
    seen: set[str] = set()
    stack = [step_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def eligible(steps: Sequence[StepSpec], records: Mapping[str, StepRecord]) -> list[str]:
    """Unfinished steps whose dependencies are all finished, in chain order."""
    return [
        step.id
        for step in steps
        if records[step.id].state in (StepState.PENDING, StepState.READY)
        and all(records[dep].state in FINISHED for dep in step.dependencies)
    ]
