"""Benchmarks: one-shot runs in-process and guided submits on the SQLite store (medians), by
position in a 20-step chain too."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import taskchain
from taskchain.requests import ChainRequest, SubmitIn, parse
from taskchain.service import Service
from taskchain.store.sqlite import SqliteStore, WriteMeter

TARGETS_MS = {"one-shot 4-step": 1.0, "one-shot 20-step": 5.0, "guided submit (SQLite)": 2.0}


def median_ms(fn: Callable[[int], Any], *, repeat: int, warmup: int = 5) -> float:
    """Median wall time of ``fn(i)`` in milliseconds.

    Each call gets its own index, which the callers put into the target, so no run is served
    from the caches of an earlier, identical one.
    """
    for i in range(warmup):
        fn(-1 - i)
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def varied(request: dict[str, Any], i: int) -> dict[str, Any]:
    """``request`` with a target unique to call ``i``."""
    return {**request, "target": f"{request['target']}（方案 {i}）"}


def twenty_step_chain() -> dict[str, Any]:
    """A 20-step custom chain: a layered DAG with fan-in, using several capabilities."""
    caps = ["理解分析", "信息检索", "逻辑推理", "风险评估", "结果整合"]
    steps = []
    for i in range(1, 21):
        deps = [f"s{i - 1}"] if i > 1 else []
        if i > 3 and i % 4 == 0:
            deps.append(f"s{i - 3}")
        steps.append(
            {
                "id": f"s{i}",
                "name": f"步骤 {i}",
                "description": f"第 {i} 步：推进对目标的分析",
                "required_capabilities": [caps[i % len(caps)]],
                "dependencies": deps,
            }
        )
    return {
        "task_type": "custom",
        "target": "评估在三个城市同时开设门店的可行性",
        "config": {"focus_areas": ["成本", "客流"]},
        "custom_chain": steps,
    }


ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "quality" / "corpus" / "analysis-zh"


def bench_guided_submit(repeat: int) -> float:
    """Median time of one accepted submit through the service on a SQLite file.

    The output is a real answer from the quality corpus (analysis, Chinese, chain A, step 1),
    submitted to a session on its own target, so every check runs as it does for a user.
    """
    chains = json.loads((CORPUS / "chains.json").read_text(encoding="utf-8"))
    chain = chains["A"]
    output = (CORPUS / "good" / chains["reference"] / "understand_goal.md").read_text(
        encoding="utf-8"
    )
    with tempfile.TemporaryDirectory() as home:
        service = Service(SqliteStore(Path(home) / "sessions.db"))
        request = {
            "task_type": "analysis",
            "target": chain["target"],
            "config": {"focus_areas": chain["focus_areas"], "depth": chain["depth"]},
        }
        pending = []
        for i in range(repeat + 5):
            started = service.start(parse(ChainRequest, varied(request, i)), tenant="bench")
            pending.append((started.session_id, started.ready_steps[0].step_id))
        it = iter(pending)

        def one(_: int) -> None:
            # Timed from the request as a caller sends it: parsing is part of a submit.
            session_id, step_id = next(it)
            body = parse(SubmitIn, {"output": output})
            result = service.submit("bench", session_id, step_id, body)
            assert result.accepted, [f for f in result.feedback if not f.passed]

        return median_ms(one, repeat=repeat, warmup=5)


def position_chain(
    steps: int = 20, *, target: str = "评估在三个城市同时开设门店的可行性"
) -> dict[str, Any]:
    """A custom chain of ``steps`` steps in sequence, each with a capability, sized for ~2 KB
    outputs (at least 560 characters each)."""
    caps = ["理解分析", "信息检索", "逻辑推理", "风险评估", "结果整合"]
    return {
        "task_type": "custom",
        "target": target,
        "config": {"focus_areas": ["成本", "客流"]},
        "custom_chain": [
            {
                "id": f"s{i:02d}",
                "name": f"步骤 {i}",
                "description": f"第 {i} 步：推进对目标的分析",
                "required_capabilities": [caps[i % len(caps)]],
                "dependencies": [f"s{i - 1:02d}"] if i > 1 else [],
                "validation_rules": {"min_length": 560},
            }
            for i in range(1, steps + 1)
        ],
    }


def guided_outputs(
    service: Service, request: dict[str, Any], steps: list[int]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Start one session of ``request`` per entry of ``steps`` and write the outputs of its
    first ``steps[n]`` steps ahead of time.

    Each output passes its step's checks (``tests.factories.good_output``, from the step's
    guidance) and differs from session to session, so no submit is served from the caches of
    another. Returns, per session, ``(session_id, [(step_id, output), ...])``; the sessions
    are left at version 1, nothing submitted.
    """
    sys.path.insert(0, str(ROOT))  # the outputs come from the tests' own builder
    from taskchain import chain as chains
    from taskchain import engine
    from taskchain.guidance import guide
    from tests.factories import good_output

    out = []
    for n, count in enumerate(steps):
        view = service.start(parse(ChainRequest, varied(request, n)), tenant="bench")
        session = service.store.get("bench", view.session_id)
        assert session is not None
        registry = chains.registry_for(session.definition)
        texts = []
        for step in session.definition.steps[:count]:
            # Made-up words now and then read as another subject: take the first that passes,
            # tried on a copy of the session, as the submits will find it.
            for attempt in range(20):
                text = good_output(guide(session, step.id, registry), variant=f"{n}.{attempt}")
                tried = engine.submit(session, step.id, text, now=time.time(), registry=registry)
                if tried.accepted:
                    break
            assert tried.accepted, [f for f in tried.feedback if not f.passed]
            session = tried.session
            texts.append((step.id, text))
        out.append((view.session_id, texts))
    forget_outputs()
    return out


def forget_outputs() -> None:
    """Empty the caches that read outputs (not the store's), so a timed submit reads its
    output afresh, as a user's submit does, though the output was tried ahead of time."""
    import functools

    for name, module in list(sys.modules.items()):
        if not name.startswith("taskchain.") or name.startswith("taskchain.store"):
            continue
        for value in vars(module).values():
            # A bounded cache reads outputs; an unbounded one holds a lazily compiled pattern.
            if (
                isinstance(value, functools._lru_cache_wrapper)
                and value.cache_parameters()["maxsize"] is not None
            ):
                value.cache_clear()


def staggered(lanes: int, steps: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """An order of submits, ``(session, position)``, in which every position is timed all
    through the run, not one position at a time.

    ``lanes`` lanes work sessions of ``steps`` steps side by side, one submit each per round.
    Lane ``g`` starts ``g % steps`` steps into its first session (session ``2g``; those submits
    come first, untimed) and goes on with session ``2g + 1`` when that one is done. Over
    ``steps`` rounds each lane submits every position once, and each round holds every
    position alike, so a slower stretch of the machine falls on all positions, and between two
    submits of one session every other lane has submitted once (a server with many users,
    whose caches hold a few sessions, not all). Returns the untimed submits and the timed ones,
    in order.
    """
    warmup = [(2 * g, p) for p in range(steps) for g in range(lanes) if p < g % steps]
    timed = []
    for r in range(steps):
        for g in range(lanes):
            position = g % steps + r
            timed.append((2 * g, position) if position < steps else (2 * g + 1, position - steps))
    return warmup, timed


def bench_guided_positions(lanes: int) -> tuple[list[float], float, float]:
    """Server-side time of each guided submit of a 20-step chain, by the step's position.

    Sessions on one SQLite file are worked through side by side in ``lanes`` lanes, in the
    :func:`staggered` order. Each submit is timed from the request body as a caller sends it
    to the answer. Returns the median of each position (ms), and the medians over positions
    1–5 and 16–20.
    """
    steps = 20
    warmup, timed = staggered(lanes, steps)
    need = [0] * (2 * lanes)
    for n, position in warmup + timed:
        need[n] = max(need[n], position + 1)
    with tempfile.TemporaryDirectory() as home:
        service = Service(SqliteStore(Path(home) / "sessions.db"))
        planned = guided_outputs(service, position_chain(steps), need)

        def submit(n: int, position: int) -> float:
            session_id, texts = planned[n]
            step_id, output = texts[position]
            started = time.perf_counter()
            body = parse(SubmitIn, {"output": output})
            result = service.submit("bench", session_id, step_id, body)
            elapsed = (time.perf_counter() - started) * 1000
            assert result.accepted, [f for f in result.feedback if not f.passed]
            return elapsed

        for n, position in warmup:
            submit(n, position)
        samples: list[list[float]] = [[] for _ in range(steps)]
        for n, position in timed:
            samples[position].append(submit(n, position))
    medians = [statistics.median(s) for s in samples]
    first = statistics.median(x for s in samples[:5] for x in s)
    last = statistics.median(x for s in samples[15:] for x in s)
    return medians, first, last


def sqlite_bytes_per_session() -> tuple[float, float]:
    """Bytes a 20-step guided session writes on SQLite, over the output submitted to it.

    The session of ``test_a_20_step_session_writes_about_its_output_once``: 20 steps, each
    accepted on its first submit with a ~2 KB output built to pass every check, through the
    engine, each version saved over the previous one. Returns two ratios: the bytes of every
    INSERT/UPDATE/DELETE from create to the last save, values expanded, as SQLite's trace sees
    them (:class:`~taskchain.store.sqlite.WriteMeter`), over the UTF-8 bytes submitted; and the
    growth of the WAL over the saves (every page each commit wrote) over the same.
    """
    sys.path.insert(0, str(ROOT))  # the outputs come from the tests' own builder
    from taskchain import engine
    from tests.factories import T0, FakeClock, build_chain, custom_step, passing_output, start_chain

    steps = [
        custom_step(
            f"s{i:02d}",
            *([f"s{i - 1:02d}"] if i > 1 else []),
            validation_rules={"min_length": 560},
        )
        for i in range(1, 21)
    ]
    definition, registry = build_chain(steps=steps, focus_areas=["成本", "客流"])
    session = start_chain(definition)
    meter = WriteMeter()
    with tempfile.TemporaryDirectory() as home:
        db = Path(home) / "sessions.db"
        store = SqliteStore(db, clock=FakeClock(), trace=meter)
        store.ping()
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN")  # a snapshot: SQLite cannot rewind the WAL while it is held
        holder.execute("SELECT count(*) FROM sessions").fetchall()
        store.create(session)
        wal_start = os.path.getsize(f"{db}-wal")
        submitted = 0
        for n, spec in enumerate(definition.steps, start=1):
            output = passing_output(session, spec.id, registry)
            outcome = engine.submit(session, spec.id, output, now=T0 + 30 * n, registry=registry)
            assert outcome.accepted, [f for f in outcome.feedback if not f.passed]
            store.save(outcome.session, expected_version=session.version)
            session = outcome.session
            submitted += len(output.encode())
        wal = os.path.getsize(f"{db}-wal") - wal_start
        holder.rollback()
        holder.close()
        store.close()
    return meter.bytes / submitted, wal / submitted


def main() -> None:
    """Print the medians against their targets."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--lanes", type=int, default=40, help="sessions worked side by side, by position"
    )
    args = parser.parse_args()
    four = {
        "task_type": "analysis",
        "target": "是否开设第二家门店",
        "config": {"focus_areas": ["成本", "客户留存"]},
    }
    twenty = twenty_step_chain()
    for request in (four, twenty):
        result = taskchain.run(request)
        assert result["success"], result
    figures = {
        "one-shot 4-step": median_ms(lambda i: taskchain.run(varied(four, i)), repeat=args.repeat),
        "one-shot 20-step": median_ms(
            lambda i: taskchain.run(varied(twenty, i)), repeat=max(20, args.repeat // 4)
        ),
        "guided submit (SQLite)": bench_guided_submit(max(20, args.repeat // 2)),
    }
    print(f"{'benchmark':<26}{'median ms':>10}{'target ms':>11}  verdict")
    for name, value in figures.items():
        target = TARGETS_MS[name]
        print(f"{name:<26}{value:>10.3f}{target:>11.1f}  {'ok' if value <= target else 'OVER'}")
    by_position, first, last = bench_guided_positions(args.lanes)
    print(
        f"guided submit by position (20-step chain, SQLite, {args.lanes} sessions side by side),"
        " median ms: " + " ".join(f"{m:.2f}" for m in by_position)
    )
    print(
        f"  steps 1-5: {first:.3f} ms, steps 16-20: {last:.3f} ms, ratio {last / first:.2f}"
        f" (target 1.2, {'ok' if last <= 1.2 * first else 'OVER'})"
    )
    ratio, wal = sqlite_bytes_per_session()
    print(
        f"SQLite bytes written per 20-step session / submitted output: {ratio:.2f}"
        f" (target 2.0, {'ok' if ratio <= 2 else 'OVER'}; WAL pages written: {wal:.1f})"
    )


if __name__ == "__main__":
    main()
