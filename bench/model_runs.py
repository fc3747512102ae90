"""Benchmark of runs a model writes: a 20-step chain against an OpenAI-compatible server on
127.0.0.1 that answers every call after a fixed latency, with answers that pass the checks.

It prints, for parallel and sequential mode, the run's wall time against the time the model
alone needs (parallel: the chain's critical path, its longest dependency path × the latency;
sequential: the sum, steps × latency) and their ratio (targets: 1.1× and 1.05×), and the
prompt's size at step 1 and step 20 (characters, and tokens as the server reports them). The
server estimates tokens as one per CJK character plus one per four other characters.

The run goes through ``bootstrap`` on a SQLite file, as ``taskchain run`` does: every batch of
attempts is saved. No figure is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the server and its answers are the tests' own

from taskchain.bootstrap import bootstrap  # noqa: E402
from taskchain.service import Service  # noqa: E402
from tests.support.answers import answering, prompt_of, step_of  # noqa: E402
from tests.support.fake_openai import Behaviour, FakeOpenAI, RecordedRequest  # noqa: E402

TARGET = "评估在三个城市同时开设门店的可行性"
CAPABILITIES = ["理解分析", "信息检索", "逻辑推理", "风险评估", "结果整合"]
TARGETS = {"parallel": 1.1, "sequential": 1.05}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def estimate_tokens(text: str) -> int:
    """A tokenizer's count, roughly: one per CJK character, one per four other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def lanes_chain(lanes: int = 4, length: int = 5) -> dict[str, Any]:
    """``lanes`` independent lanes of ``length`` steps each (20 steps by default)."""
    steps = []
    for lane in range(lanes):
        for i in range(length):
            n = lane * length + i
            steps.append(
                {
                    "id": f"l{lane + 1}s{i + 1}",
                    "name": f"方向{lane + 1}第{i + 1}步",
                    "description": f"第 {lane + 1} 个方向的第 {i + 1} 步：推进这一方向的分析",
                    "required_capabilities": [CAPABILITIES[n % len(CAPABILITIES)]],
                    "dependencies": [f"l{lane + 1}s{i}"] if i else [],
                }
            )
    return request_for(steps)


def fan_in_chain(steps: int = 20) -> dict[str, Any]:
    """``steps`` steps, each depending on every earlier one: the largest context a step has."""
    return request_for(
        [
            {
                "id": f"s{i}",
                "name": f"步骤{i}",
                "description": f"第 {i} 步：推进对目标的分析",
                "required_capabilities": [CAPABILITIES[i % len(CAPABILITIES)]],
                "dependencies": [f"s{j}" for j in range(1, i)],
            }
            for i in range(1, steps + 1)
        ]
    )


def request_for(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "task_type": "custom",
        "target": TARGET,
        "config": {"focus_areas": ["成本", "客流"]},
        "custom_chain": steps,
    }


def longest_path(request: dict[str, Any]) -> int:
    """Steps on the chain's longest dependency path."""
    deps = {s["id"]: s["dependencies"] for s in request["custom_chain"]}
    depth: dict[str, int] = {}
    for step_id in TopologicalSorter(deps).static_order():
        depth[step_id] = 1 + max((depth[d] for d in deps[step_id]), default=0)
    return max(depth.values())


@contextmanager
def model_server(latency: float) -> Iterator[FakeOpenAI]:
    """The server, answering every call well after ``latency`` seconds, with token counts."""
    server = FakeOpenAI()
    good = answering(tokens=False)

    def respond(request: RecordedRequest) -> Behaviour:
        reply = good(request)
        system, user = prompt_of(request)
        usage = {
            "prompt_tokens": estimate_tokens(system) + estimate_tokens(user),
            "completion_tokens": estimate_tokens(reply.content or ""),
        }
        # The answer leaves ``latency`` after the request arrived: the time this stand-in takes
        # to write it is the model's, not taskchain's.
        delay = max(0.0, latency - (time.monotonic() - request.arrived))
        return dataclasses.replace(reply, usage=usage, delay=delay)

    server.responder = respond
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _serve(latency: float, urls: Any, stop: Any) -> None:
    """A child process's body: the server until ``stop`` is set (its URL sent back)."""
    with model_server(latency) as server:
        urls.put(server.base_url)
        stop.wait()


@contextmanager
def model_server_apart(latency: float) -> Iterator[str]:
    """The server in a process of its own, as a real model is: writing its answers takes none
    of the run's CPU (the machine has two cores). Yields its base URL."""
    ctx = multiprocessing.get_context("fork")
    urls, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(latency, urls, stop), daemon=True)
    child.start()
    try:
        yield urls.get(timeout=30)
    finally:
        stop.set()
        child.join(timeout=10)


def service_for(server: FakeOpenAI | str, home: str) -> Service:
    base_url = server if isinstance(server, str) else server.base_url
    return bootstrap(
        {
            "TASKCHAIN_STORE": "sqlite",
            "TASKCHAIN_HOME": home,
            "TASKCHAIN_LLM_PROVIDER": "custom",
            "TASKCHAIN_LLM_BASE_URL": base_url,
            "TASKCHAIN_LLM_MODEL": "bench-model",
            "TASKCHAIN_LLM_API_KEY": "sk-bench",
            "TASKCHAIN_LLM_CONCURRENCY": "4",
        }
    )


def timed_run(service: Service, request: dict[str, Any], mode: str, i: int) -> tuple[float, int]:
    """Wall seconds of one run of ``request`` in ``mode`` and its attempts; the target varies
    with ``i`` so that no run is served from an earlier one's caches."""
    varied = {
        **request,
        "target": f"{request['target']}（方案 {i}）",
        "config": {**request["config"], "execution_mode": mode},
    }
    started = time.perf_counter()
    result = service.run_safely(varied, tenant="bench")
    took = time.perf_counter() - started
    assert result["success"], result.get("error")
    return took, sum(r["attempts"] for r in result["execution_results"])


def prompt_sizes(service: Service, server: FakeOpenAI, request: dict[str, Any]) -> dict[int, Any]:
    """Per step position: prompt characters and the tokens the run recorded, for one run."""
    before = len(server.requests)
    result = service.run_safely(request, tenant="bench")
    assert result["success"], result.get("error")
    chars = {step_of(r)[0]: len("".join(prompt_of(r))) for r in server.requests[before:]}
    tokens = [r["usage"]["prompt_tokens"] for r in result["execution_results"]]
    return {n: (chars[n], tokens[n - 1]) for n in chars}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--latency-ms", type=float, nargs="+", default=[50.0, 500.0], help="model latencies"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    args = parser.parse_args()
    lanes = lanes_chain()
    steps = len(lanes["custom_chain"])
    print(
        "model runs: 20-step chain (4 independent lanes of 5 steps) against a model server in "
        f"its own process, SQLite, median of {args.repeat}"
    )
    print(f"{'latency':>8} {'mode':<11}{'wall ms':>9}{'model-only ms':>15}{'ratio':>7}"
          f"{'target':>8}{'overhead/step ms':>18}  verdict")  # fmt: skip
    for latency_ms in args.latency_ms:
        latency = latency_ms / 1000
        ideal = {"parallel": longest_path(lanes) * latency, "sequential": steps * latency}
        with model_server_apart(latency) as url, tempfile.TemporaryDirectory() as home:
            service = service_for(url, home)
            timed_run(service, lanes, "parallel", -1)  # warm-up: imports, first connections
            for mode in ("parallel", "sequential"):
                runs = [timed_run(service, lanes, mode, i) for i in range(args.repeat)]
                wall = statistics.median(took for took, _ in runs)
                attempts = max(n for _, n in runs)
                ratio, target = wall / ideal[mode], TARGETS[mode]
                overhead = (wall - ideal[mode]) * 1000 / steps
                print(
                    f"{latency_ms:>6g}ms {mode:<11}{wall * 1000:>9.1f}{ideal[mode] * 1000:>15.1f}"
                    f"{ratio:>7.2f}{target:>8.2f}{overhead:>18.2f}  "
                    + ("ok" if ratio <= target else "OVER")
                    + ("" if attempts == steps else f" ({attempts} attempts: some refused)")
                )
    with model_server(0.0) as server, tempfile.TemporaryDirectory() as home:
        service = service_for(server, home)
        print("prompt size per step (system + user message; tokens as the server counts them):")
        for name, request in (
            ("4 lanes (1 dependency)", lanes),
            ("fan-in (all earlier)", fan_in_chain()),
        ):
            sizes = prompt_sizes(service, server, request)
            first, last = sizes[1], sizes[20]
            print(
                f"  {name:<24} step 1: {first[0]:>6} chars {first[1]:>6} tokens   "
                f"step 20: {last[0]:>6} chars {last[1]:>6} tokens   "
                f"(×{last[0] / first[0]:.2f})"
            )


if __name__ == "__main__":
    main()
