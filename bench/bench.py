"""Benchmarks: one-shot runs in-process and a guided submit on the SQLite store (medians)."""

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
    ratio, wal = sqlite_bytes_per_session()
    print(
        f"SQLite bytes written per 20-step session / submitted output: {ratio:.2f}"
        f" (target 2.0, {'ok' if ratio <= 2 else 'OVER'}; WAL pages written: {wal:.1f})"
    )


if __name__ == "__main__":
    main()
