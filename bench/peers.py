"""taskchain's guided submit side by side with LangGraph's closest equivalent (``make bench-peers``).

LangGraph: a linear graph of one node per step; each node pauses with ``interrupt()`` and is
resumed with ``Command(resume=output)``; its state keeps every output (as a taskchain session
does), checkpointed by ``SqliteSaver`` to a file, one ``thread_id`` per session, LangGraph's
default durability. taskchain: the same chain as a custom chain of steps in sequence, each
output submitted through ``Service`` on a ``SqliteStore`` file, every check run. Both get the
same ~2 KB outputs (each passes taskchain's checks) and work their sessions side by side in
the same order (``bench.staggered``), one taskchain submit then one LangGraph resume, so a
slower stretch of the machine falls on both alike.

Timed: one submit (from the request body to the answer) against one resume (``invoke`` with
the ``Command`` to its return at the next interrupt); sessions are started untimed on both
sides. LangGraph judges nothing, so the time of taskchain's checks within each submit is also
taken out ("w/o checks": what the rest of a submit costs, store included). Disk: the size of each database file after working a batch of sessions to their end,
the WAL checkpointed into the file, per session.

Needs ``langgraph`` and ``langgraph-checkpoint-sqlite``, kept out of taskchain's own
environment: ``make bench-peers`` builds ``.venv-peers`` with them and this repository.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import operator
import os
import pstats
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

import bench  # bench/bench.py, next to this file
from taskchain import engine
from taskchain.requests import SubmitIn, parse
from taskchain.service import Service
from taskchain.store.sqlite import SqliteStore

Planned = list[tuple[str, list[tuple[str, str]]]]


class State(TypedDict):
    """The graph's state: every output so far, in step order."""

    outputs: Annotated[list[str], operator.add]


def linear_graph(steps: int) -> StateGraph[State]:
    """One node per step in sequence, each pausing for its output and keeping it."""

    def node(name: str) -> Callable[[State], dict[str, list[str]]]:
        def run(state: State) -> dict[str, list[str]]:
            output = interrupt({"step": name})  # the resume value is the step's output
            return {"outputs": [output]}

        return run

    builder = StateGraph(State)
    previous = START
    for i in range(1, steps + 1):
        name = f"s{i:02d}"
        builder.add_node(name, node(name))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder


class Sides:
    """Both systems on their own SQLite files in ``home``, for chains of ``steps`` steps."""

    def __init__(self, home: Path, steps: int) -> None:
        self.tc_path, self.lg_path = home / "taskchain.db", home / "langgraph.db"
        self.store = SqliteStore(self.tc_path)
        self.store.ping()  # creates the file and its tables
        self.service = Service(self.store)
        self.conn = sqlite3.connect(self.lg_path, check_same_thread=False)
        saver = SqliteSaver(self.conn)
        saver.setup()
        self.graph = linear_graph(steps).compile(checkpointer=saver)
        self.request = bench.position_chain(steps)

    def plan(self, steps: list[int]) -> Planned:
        """Start the sessions on both sides (untimed) and write their outputs ahead of time."""
        planned = bench.guided_outputs(self.service, self.request, steps)
        for session_id, _ in planned:
            self.graph.invoke({"outputs": []}, _thread(session_id))  # runs to the 1st pause
        return planned

    def submit(self, planned: Planned, n: int, position: int) -> tuple[float, float]:
        """One taskchain submit: its time and the time of its checks within it, in ms."""
        session_id, texts = planned[n]
        step_id, output = texts[position]
        _checks.clear()
        started = time.perf_counter()
        body = parse(SubmitIn, {"output": output})
        result = self.service.submit("bench", session_id, step_id, body)
        elapsed = (time.perf_counter() - started) * 1000
        assert result.accepted, [f for f in result.feedback if not f.passed]
        return elapsed, sum(_checks) * 1000

    def resume(self, planned: Planned, n: int, position: int) -> float:
        """One LangGraph resume with the same output, in ms."""
        session_id, texts = planned[n]
        started = time.perf_counter()
        state = self.graph.invoke(Command(resume=texts[position][1]), _thread(session_id))
        elapsed = (time.perf_counter() - started) * 1000
        assert len(state["outputs"]) == position + 1
        return elapsed

    def close(self) -> None:
        self.store.close()
        self.conn.close()


def _thread(session_id: str) -> Any:
    return {"configurable": {"thread_id": session_id}}


# The time the engine spends in taskchain's checks of an output (what LangGraph does not do).
_checks: list[float] = []
_check = engine.check


def _timed_check(*args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    try:
        return _check(*args, **kwargs)
    finally:
        _checks.append(time.perf_counter() - started)


engine.check = _timed_check


Samples = list[list[float]]  # per position, times in ms


def timed(steps: int, lanes: int) -> tuple[Samples, Samples, Samples]:
    """Per position, the times of taskchain's submits, of the same submits less their checks,
    and of LangGraph's resumes (ms)."""
    warmup, order = bench.staggered(lanes, steps)
    need = [0] * (2 * lanes)
    for n, position in warmup + order:
        need[n] = max(need[n], position + 1)
    with tempfile.TemporaryDirectory() as home:
        sides = Sides(Path(home), steps)
        planned = sides.plan(need)
        for n, position in warmup:
            sides.submit(planned, n, position)
            sides.resume(planned, n, position)
        ours: Samples = [[] for _ in range(steps)]
        bare: Samples = [[] for _ in range(steps)]
        theirs: Samples = [[] for _ in range(steps)]
        for n, position in order:
            took, checking = sides.submit(planned, n, position)
            ours[position].append(took)
            bare[position].append(took - checking)
            theirs[position].append(sides.resume(planned, n, position))
        sides.close()
    return ours, bare, theirs


def on_disk(steps: int, sessions: int) -> tuple[float, float, str]:
    """Bytes on disk per session worked to its end, taskchain's and LangGraph's, and the
    profile of taskchain's submits at the middle position (the top items)."""
    with tempfile.TemporaryDirectory() as home:
        sides = Sides(Path(home), steps)
        empty = _size(sides.tc_path), _size(sides.lg_path)
        planned = sides.plan([steps] * sessions)
        profile = cProfile.Profile()
        for position in range(steps):
            for n in range(sessions):
                if position == steps // 2:
                    profile.enable()
                sides.submit(planned, n, position)
                profile.disable()
                sides.resume(planned, n, position)
        sides.close()
        ours = (_size(sides.tc_path) - empty[0]) / sessions
        theirs = (_size(sides.lg_path) - empty[1]) / sessions
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(24)
    return ours, theirs, f"{sessions} submits at position {steps // 2 + 1}:\n{text.getvalue()}"


def _size(path: Path) -> int:
    """The database's size once its WAL is checkpointed into it."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)


def _med(samples: Samples, start: int = 0, stop: int | None = None) -> float:
    return statistics.median(x for s in samples[start:stop] for x in s)


def main() -> None:
    """Print per-step medians, the ratio and bytes on disk per session, for 4 and 20 steps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=20, help="sessions worked side by side")
    parser.add_argument("--sessions", type=int, default=10, help="sessions for the disk size")
    args = parser.parse_args()
    print(
        "taskchain guided submit (SqliteStore, every check) vs LangGraph resume (interrupt + "
        "Command, SqliteSaver), ~2 KB outputs,\n"
        f"{args.lanes} sessions side by side; median ms per step, bytes on disk per session "
        "worked to its end\n"
    )
    print(
        f"{'steps':>5} {'taskchain':>10} {'LangGraph':>10} {'LG/tc':>7} {'tc w/o checks':>14}"
        f" {'LG/tc w/o':>10} {'taskchain B':>12} {'LangGraph B':>12} {'LG/tc B':>8}"
    )
    profile = ""
    for steps in (4, 20):
        ours, bare, theirs = timed(steps, args.lanes)
        disk_ours, disk_theirs, profile = on_disk(steps, args.sessions)
        ratio = _med(theirs) / _med(ours)
        print(
            f"{steps:>5} {_med(ours):>10.2f} {_med(theirs):>10.2f} {ratio:>6.2f}x"
            f" {_med(bare):>14.2f} {_med(theirs) / _med(bare):>9.2f}x"
            f" {disk_ours:>12,.0f} {disk_theirs:>12,.0f} {disk_theirs / disk_ours:>7.1f}x"
        )
        if steps == 20:
            for name, samples in (("taskchain", ours), ("LangGraph", theirs)):
                by_position = " ".join(f"{statistics.median(s):.2f}" for s in samples)
                print(
                    f"      {name} by position: {by_position}\n"
                    f"      {name} steps 1-5 {_med(samples, 0, 5):.2f}, steps 16-20 "
                    f"{_med(samples, 15):.2f}"
                )
            verdict = "met" if ratio >= 10 else "NOT met"
            print(
                f"\ntarget: taskchain >= 10x faster per step at 20 steps: {verdict} ({ratio:.2f}x)"
            )
    print(f"\nwhere taskchain's submit time goes (cProfile, cumulative), {profile}")


if __name__ == "__main__":
    main()
