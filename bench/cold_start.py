"""Cold start of each platform shell against the floor of its own dependencies.

For each shell, in fresh interpreters (runs interleaved, medians reported):

- the **floor**: pydantic with one model built, Powertools' ``LambdaFunctionUrlResolver``
  instantiated, its ``Logger`` and ``Metrics`` created — what any handler on this stack pays;
- the **handler**: ``import handlers.aws_lambda`` in the Lambda configuration (the handler is
  built at import), and ``import handlers.aliyun_fc`` plus the first ``cached_handler()`` in the
  FC configuration (FC builds on the first call, which the first request waits on).

Each child times its own import with ``time.perf_counter`` (interpreter start-up is left out)
and reports which cloud SDKs are in ``sys.modules`` afterwards. One extra run of each handler
under ``python -X importtime`` lists the 15 largest cumulative imports, so the causes are
visible. Exit status 0: a benchmark, not a test (the tests assert the SDKs stay out).

    python bench/cold_start.py [--runs 11]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.35
# Digest of an arbitrary token: the shells refuse to start with no token configured.
TOKENS = "coze=sha256:" + "0" * 64
COMMON = {
    "POWERTOOLS_SERVICE_NAME": "taskchain",
    "POWERTOOLS_METRICS_NAMESPACE": "Taskchain",
    "TASKCHAIN_API_TOKENS": TOKENS,
}
SHELLS: dict[str, dict[str, Any]] = {
    "aws_lambda": {
        "env": {
            **COMMON,
            "AWS_LAMBDA_FUNCTION_NAME": "taskchain-bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TASKCHAIN_STORE": "dynamodb",
            "TASKCHAIN_TABLE_NAME": "taskchain-sessions",
            "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": "taskchain-idempotency",
        },
        "code": "import handlers.aws_lambda",
        # What the first request that uses the store imports on top (its client aside).
        "deferred": "import boto3, botocore.config, botocore.exceptions",
    },
    "aliyun_fc": {
        "env": {
            **COMMON,
            "TASKCHAIN_STORE": "tablestore",
            "TASKCHAIN_TABLE_NAME": "taskchain_sessions",
            "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": "taskchain_idempotency",
            "TASKCHAIN_OTS_ENDPOINT": "https://bench.cn-hangzhou.ots.aliyuncs.com",
            "TASKCHAIN_OTS_INSTANCE": "bench",
            "TASKCHAIN_FUNCTION_TIMEOUT_MS": "60000",
        },
        "code": (
            "import handlers.aliyun_fc\n"
            "from taskchain.bootstrap import cached_handler\n"
            "cached_handler()"
        ),
        "deferred": "import tablestore, tablestore.retry, urllib3",
    },
}
FLOOR = """\
import pydantic

class Model(pydantic.BaseModel):
    name: str
    count: int = 0

Model(name="x")

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

LambdaFunctionUrlResolver()
Logger(service="taskchain")
Metrics(service="taskchain", namespace="Taskchain")
"""
# Run inside the child: time the code, report which SDKs it imported, then time the SDK imports
# the store's first use adds (``deferred``).
CHILD = """\
import json, sys, time
_code = {code!r}
_started = time.perf_counter()
exec(compile(_code, "<cold-start>", "exec"), {{"__name__": "__cold_start__"}})
_elapsed = time.perf_counter() - _started
_mods = dict(sys.modules)
_started = time.perf_counter()
exec(compile({deferred!r}, "<deferred>", "exec"), {{}})
_deferred = time.perf_counter() - _started
print(json.dumps({{
    "ms": _elapsed * 1000,
    "deferred_ms": _deferred * 1000,
    "boto3": "boto3" in _mods,
    "botocore": "botocore" in _mods,
    "botocore_submodules": sorted(m for m in _mods if m.startswith("botocore.")),
    "tablestore": any(m == "tablestore" or m.startswith("tablestore.") for m in _mods),
    "modules": sorted(_mods),
}}))
"""


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any TASKCHAIN_/AWS_/POWERTOOLS_ variable, plus ``extra``."""
    prefixes = ("TASKCHAIN_", "AWS_", "POWERTOOLS_", "ALIBABA_CLOUD_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    clean.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once, as a warm file system would be
    return {**clean, **extra}


def run_child(
    code: str, env: dict[str, str], *flags: str, deferred: str = "pass"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", CHILD.format(code=code, deferred=deferred)],
        env=child_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def measure(code: str, env: dict[str, str], deferred: str = "pass") -> dict[str, Any]:
    """One fresh interpreter's report on ``code``; raises with the child's stderr if it failed."""
    result = run_child(code, env, deferred=deferred)
    if result.returncode != 0:
        raise RuntimeError(f"child failed:\n{result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def import_times(code: str, env: dict[str, str]) -> list[tuple[int, int, str]]:
    """``(cumulative µs, self µs, module)`` for every import ``code`` makes, from -X importtime."""
    result = run_child(code, env, "-X", "importtime")
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative_us), int(self_us), name.rstrip()))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per figure")
    args = parser.parse_args(argv)

    samples: dict[str, dict[str, list[float]]] = {
        s: {"floor": [], "handler": [], "deferred": []} for s in SHELLS
    }
    last: dict[str, dict[str, Any]] = {}
    floor_modules: dict[str, set[str]] = {}
    for spec in SHELLS.values():  # warm-up: compile the bytecode, fill the OS caches
        measure(FLOOR, spec["env"])
        measure(spec["code"], spec["env"])
    for _ in range(args.runs):
        for shell, spec in SHELLS.items():
            floor = measure(FLOOR, spec["env"])
            handler = measure(spec["code"], spec["env"], spec["deferred"])
            samples[shell]["floor"].append(floor["ms"])
            samples[shell]["handler"].append(handler["ms"])
            samples[shell]["deferred"].append(handler["deferred_ms"])
            floor_modules[shell] = set(floor["modules"])
            last[shell] = handler

    python = f"Python {sys.version.split()[0]}"
    print(f"Cold start, medians of {args.runs} fresh interpreters each, interleaved ({python})")
    print()
    header = (
        f"{'shell':<11} {'floor ms':>9} {'handler ms':>11} {'ratio':>6} {'min ratio':>9}"
        f" {'target':>7}"
        f"  {'boto3':>5} {'botocore':>8} {'botocore.*':>10} {'tablestore':>10}"
    )
    print(header)
    print("-" * len(header))
    ratios = {}
    for shell in SHELLS:
        floor_ms = statistics.median(samples[shell]["floor"])
        handler_ms = statistics.median(samples[shell]["handler"])
        ratios[shell] = ratio = handler_ms / floor_ms
        # Fastest against fastest: less sensitive to a busy machine than the medians.
        min_ratio = min(samples[shell]["handler"]) / min(samples[shell]["floor"])
        report = last[shell]
        print(
            f"{shell:<11} {floor_ms:>9.1f} {handler_ms:>11.1f} {ratio:>6.2f} {min_ratio:>9.2f} "
            f"{'≤' + format(TARGET_RATIO, '.2f'):>7}  "
            f"{'yes' if report['boto3'] else 'no':>5} {'yes' if report['botocore'] else 'no':>8} "
            f"{len(report['botocore_submodules']):>10} {'yes' if report['tablestore'] else 'no':>10}"
        )
    print()
    print(
        "botocore: the bare package only, imported by Powertools' own __init__ for its user agent"
        " (the floor imports it too);\nbotocore.*: how many of its submodules the handler imported;"
        "\nratio: of the medians; min ratio: fastest handler over fastest floor."
    )
    print()
    for shell, spec in SHELLS.items():
        deferred_ms = statistics.median(samples[shell]["deferred"])
        print(
            f"{shell}: the first request that uses the store then imports "
            f"`{spec['deferred'].removeprefix('import ')}`: {deferred_ms:.1f} ms (median)"
        )
    for shell, spec in SHELLS.items():
        floor_set = floor_modules[shell]
        rows = import_times(spec["code"], spec["env"])
        print()
        print(
            f"{shell}: 15 largest cumulative imports (python -X importtime, one run; * = in floor)"
        )
        for cumulative, self_us, name in sorted(rows, reverse=True)[:15]:
            mark = "*" if name.strip() in floor_set else " "
            print(f"  {cumulative / 1000:>8.1f} ms  (self {self_us / 1000:>6.1f}) {mark} {name}")
        beyond = [r for r in rows if r[2].strip() not in floor_set]
        print(f"{shell}: 15 largest self times beyond the floor")
        for cumulative, self_us, name in sorted(beyond, key=lambda r: r[1], reverse=True)[:15]:
            print(
                f"  {self_us / 1000:>8.1f} ms  (cumulative {cumulative / 1000:>6.1f})  {name.strip()}"
            )
    print()
    verdicts = ", ".join(
        f"{shell} {ratio:.2f}× ({'within' if ratio <= TARGET_RATIO else 'above'} {TARGET_RATIO}×)"
        for shell, ratio in ratios.items()
    )
    print(f"cold-start ratio: {verdicts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
