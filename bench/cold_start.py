"""Cold start of each platform shell against the floor of its own dependencies.

For each shell, in fresh interpreters (runs interleaved, medians reported):

- the **floor**: pydantic with one model built, Powertools' ``LambdaFunctionUrlResolver``
  instantiated, its ``Logger`` and ``Metrics`` created — what any handler on this stack pays;
- the **handler**: ``import handlers.aws_lambda`` in the Lambda configuration (the handler is
  built at import), and ``import handlers.aliyun_fc`` plus the first ``cached_handler()`` in the
  FC configuration (FC builds on the first call, which the first request waits on);
- the **first requests**: the same cold start followed by the shell's first ``GET /health`` and
  first ``POST /v1/sessions`` (the files in ``events/``), what a user waits on after a cold start.
  These run on the memory store: the store's SDK import and client come on top (the import is the
  ``deferred`` line), whatever taskchain defers.

Each child times its own import with ``time.perf_counter`` (interpreter start-up is left out)
and reports which cloud SDKs are in ``sys.modules`` afterwards. One extra run of each handler
under ``python -X importtime`` lists the 15 largest cumulative imports, so the causes are
visible. Exit status 0: a benchmark, not a test (the tests assert the SDKs stay out).

``--bytecode`` adds what shipping compiled bytecode saves: the handler's packages copied as a
deployment package holds them (sources only, as Lambda's read-only ``/var/task`` would run them
every cold start), against the same copy compiled as ``make fc-build`` / ``sam build`` do.

    python bench/cold_start.py [--runs 11] [--bytecode]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.35
# The token the files in events/ carry: the shells refuse to start with no token configured.
TOKENS = "acme=sha256:" + hashlib.sha256(b"test-token-acme").hexdigest()
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
        # One request: ``event`` (the file's bytes) in, ``reply`` out.
        "serve": (
            "from handlers.aws_lambda import handler\n"
            "from taskchain.http.events import LocalContext\n"
            "reply = handler(json.loads(event), LocalContext())"
        ),
        "events": "events",
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
        "serve": "from handlers.aliyun_fc import handler\nreply = handler(event, None)",
        "events": "events/aliyun",
    },
}
# The first requests after a cold start: (label, event file, expected status).
REQUESTS = [
    ("GET /health", "http_health.json", 200),
    ("POST /v1/sessions", "http_start_session.json", 201),
]
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
# Run inside the child: time the code, report which SDKs it imported, time each first request
# (``requests``, served by ``serve``), then time the SDK imports the store's first use adds
# (``deferred``).
CHILD = """\
import json, sys, time
from pathlib import Path
_code = {code!r}
_started = time.perf_counter()
exec(compile(_code, "<cold-start>", "exec"), {{"__name__": "__cold_start__"}})
_elapsed = time.perf_counter() - _started
_mods = dict(sys.modules)
_serve = compile({serve!r}, "<serve>", "exec")
_requests = []
for _label, _path, _status in {requests!r}:
    _ns = {{"json": json, "event": Path(_path).read_bytes()}}
    _started = time.perf_counter()
    exec(_serve, _ns)
    _requests.append((time.perf_counter() - _started) * 1000)
    if _ns["reply"]["statusCode"] != _status:
        raise SystemExit(f"{{_label}}: {{_ns['reply']}}")
_started = time.perf_counter()
exec(compile({deferred!r}, "<deferred>", "exec"), {{}})
_deferred = time.perf_counter() - _started
print(json.dumps({{
    "ms": _elapsed * 1000,
    "requests_ms": _requests,
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
    code: str,
    env: dict[str, str],
    *flags: str,
    deferred: str = "pass",
    serve: str = "pass",
    requests: list[tuple[str, str, int]] | None = None,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    child = CHILD.format(code=code, deferred=deferred, serve=serve, requests=requests or [])
    return subprocess.run(
        [sys.executable, *flags, "-c", child],
        env=child_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def measure(code: str, env: dict[str, str], *flags: str, **options: Any) -> dict[str, Any]:
    """One fresh interpreter's report on ``code``; raises with the child's stderr if it failed."""
    result = run_child(code, env, *flags, **options)
    if result.returncode != 0:
        raise RuntimeError(f"child failed:\n{result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def first_requests(shell: str) -> dict[str, Any]:
    """The options that make a child serve ``shell``'s first requests, on the memory store."""
    spec = SHELLS[shell]
    return {
        "serve": spec["serve"],
        "requests": [(label, str(ROOT / spec["events"] / f), s) for label, f, s in REQUESTS],
    }


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


def package_copy(modules: list[str], into: Path) -> None:
    """Copy the packages (and taskchain's) that ``modules`` come from into ``into``, sources only:
    what a deployment package without bytecode holds."""
    stdlib = Path(os.__file__).resolve().parent
    for top in sorted({m.split(".")[0] for m in modules}):
        spec = importlib.util.find_spec(top) if not top.startswith("__") else None
        origin = spec.origin if spec else None
        if spec is None or origin in (None, "built-in", "frozen"):
            continue
        where = (
            Path(spec.submodule_search_locations[0])
            if spec.submodule_search_locations
            else Path(origin)
        )
        if where.resolve().is_relative_to(stdlib) and "site-packages" not in where.parts:
            continue  # the runtime's own standard library keeps its bytecode
        target = into / where.name
        if where.is_dir():
            shutil.copytree(where, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(where, target)


def bytecode(runs: int, modules: list[str]) -> None:
    """Floor and Lambda handler imported from a deployment-like copy, without and with bytecode."""
    spec = SHELLS["aws_lambda"]
    env = {**spec["env"], "PYTHONPATH": ""}
    with tempfile.TemporaryDirectory(prefix="taskchain-package-") as tmp:
        package = Path(tmp)
        package_copy(modules, package)
        # -S: only the copy and the standard library are on the path; -B: nothing is written.
        flags = ("-S", "-B")
        figures: dict[str, dict[str, list[float]]] = {}
        for label in ("sources only", "compiled"):
            if label == "compiled":
                subprocess.run(
                    [sys.executable, "-m", "compileall", "-q", "-j0",
                     "--invalidation-mode", "unchecked-hash", str(package)],
                    check=True,
                )  # fmt: skip
            figures[label] = {"floor": [], "handler": []}
            for _ in range(runs):
                for part, code in (("floor", FLOOR), ("handler", spec["code"])):
                    report = measure(code, env, *flags, cwd=package)
                    figures[label][part].append(report["ms"])
    print()
    print(
        f"Bytecode in the package (aws_lambda; medians of {runs}, -S -B, a copy of its packages):"
    )
    for label, parts in figures.items():
        floor_ms = statistics.median(parts["floor"])
        handler_ms = statistics.median(parts["handler"])
        print(
            f"  {label:<13} floor {floor_ms:7.1f} ms  handler {handler_ms:7.1f} ms"
            f"  ratio {handler_ms / floor_ms:5.2f}"
        )
    saved = statistics.median(figures["sources only"]["handler"]) - statistics.median(
        figures["compiled"]["handler"]
    )
    print(f"  compiled bytecode saves the handler's cold start {saved:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per figure")
    parser.add_argument(
        "--bytecode", action="store_true", help="also measure a package without and with bytecode"
    )
    args = parser.parse_args(argv)

    samples: dict[str, dict[str, list[Any]]] = {
        s: {"floor": [], "handler": [], "deferred": [], "cold": [], "requests": []} for s in SHELLS
    }
    last: dict[str, dict[str, Any]] = {}
    floor_modules: dict[str, set[str]] = {}
    memory = {"TASKCHAIN_STORE": "memory"}
    for shell, spec in SHELLS.items():  # warm-up: compile the bytecode, fill the OS caches
        measure(FLOOR, spec["env"])
        measure(spec["code"], spec["env"])
        measure(spec["code"], {**spec["env"], **memory}, **first_requests(shell))
    for _ in range(args.runs):
        for shell, spec in SHELLS.items():
            floor = measure(FLOOR, spec["env"])
            handler = measure(spec["code"], spec["env"], deferred=spec["deferred"])
            served = measure(spec["code"], {**spec["env"], **memory}, **first_requests(shell))
            samples[shell]["floor"].append(floor["ms"])
            samples[shell]["handler"].append(handler["ms"])
            samples[shell]["deferred"].append(handler["deferred_ms"])
            samples[shell]["cold"].append(served["ms"])
            samples[shell]["requests"].append(served["requests_ms"])
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
    labels = [label for label, _, _ in REQUESTS]
    header = (
        f"{'shell':<11} {'cold start':>10} "
        + " ".join(f"{'+ ' + label:>{max(len(label) + 2, 8)}}" for label in labels)
        + f" {'= first answer':>14}"
    )
    print("Cold start and first requests (memory store; each request after the previous one), ms:")
    print(header)
    print("-" * len(header))
    for shell in SHELLS:
        cold_ms = statistics.median(samples[shell]["cold"])
        each = [
            statistics.median(r[i] for r in samples[shell]["requests"]) for i in range(len(labels))
        ]
        totals = [
            c + sum(r)
            for c, r in zip(samples[shell]["cold"], samples[shell]["requests"], strict=True)
        ]
        print(
            f"{shell:<11} {cold_ms:>10.1f} "
            + " ".join(
                f"{ms:>{max(len(label) + 2, 8)}.1f}" for label, ms in zip(labels, each, strict=True)
            )
            + f" {statistics.median(totals):>14.1f}"
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
    if args.bytecode:
        bytecode(max(5, args.runs // 2), last["aws_lambda"]["modules"])
    print()
    verdicts = ", ".join(
        f"{shell} {ratio:.2f}× ({'within' if ratio <= TARGET_RATIO else 'above'} {TARGET_RATIO}×)"
        for shell, ratio in ratios.items()
    )
    print(f"cold-start ratio: {verdicts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
