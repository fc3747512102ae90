"""Benchmarks: one-shot runs in-process and a guided submit on the SQLite store (medians)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import taskchain
from taskchain.service import Service
from taskchain.store.sqlite import SqliteStore

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


def good_output(step: dict[str, Any], n: int) -> str:
    """A passing output for a ready step, written from its guidance."""
    lines = []
    for title in step["required_sections"] or ["结论"]:
        lines.append(f"## {title}")
        for k in range(4):
            lines.append(
                f"- 第 {n}.{k} 点：因为{'、'.join(step['focus_areas']) or '条件'}不同，所以"
                f"我们比较了方案在{title}上的差异，如果投入增加则影响明显，因此需要验证，"
                f"可能性与影响均已评估，编号 {n}{k}。"
            )
    body = "\n".join(lines)
    while taskchain_units(body) < step["min_length"]:
        body += f"\n- 补充说明 {n}：数据来自门店试点记录，样本覆盖三个季度，结论可复核。"
    return body


def taskchain_units(text: str) -> int:
    """Content units as the checks count them."""
    from taskchain.text import measure

    return measure(text)


def bench_guided_submit(repeat: int) -> float:
    """Median time of one accepted submit through the service on a SQLite file."""
    with tempfile.TemporaryDirectory() as home:
        service = Service(SqliteStore(Path(home) / "sessions.db"))
        request = {
            "task_type": "analysis",
            "target": "是否开设第二家门店",
            "config": {"focus_areas": ["成本"]},
        }
        pending = []
        for i in range(repeat + 5):
            started = service.start(varied(request, i), tenant="bench")
            step = started["ready_steps"][0]
            pending.append((started["session_id"], step["step_id"], good_output(step, i)))
        it = iter(pending)

        def one(_: int) -> None:
            session_id, step_id, output = next(it)
            result = service.submit("bench", session_id, step_id, {"output": output})
            assert result["accepted"], result["feedback"]

        return median_ms(one, repeat=repeat, warmup=5)


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


if __name__ == "__main__":
    main()
