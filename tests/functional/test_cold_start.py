"""A cold start in each platform's configuration imports no cloud SDK: the store's first use does.
It builds no model either: each is built on its first use, once, however many requests arrive
together.

The SDK tests start a fresh interpreter with the shell's deployed configuration, build the
handler as the platform would, answer one request that needs no store, and list the SDK modules
then in ``sys.modules``. (``bench/cold_start.py`` measures what the cold start costs.)
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic._internal import _model_construction

import taskchain
from taskchain import bootstrap
from taskchain.http.auth import token_digest
from taskchain.modelbase import Model

ROOT = Path(__file__).resolve().parents[2]
TOKENS = f"coze=sha256:{token_digest('test-token')}"
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "taskchain",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "TASKCHAIN_STORE": "dynamodb",
    "TASKCHAIN_TABLE_NAME": "taskchain-sessions",
    "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": "taskchain-idempotency",
    "TASKCHAIN_API_TOKENS": TOKENS,
}
FC_ENV = {
    "TASKCHAIN_STORE": "tablestore",
    "TASKCHAIN_TABLE_NAME": "taskchain_sessions",
    "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": "taskchain_idempotency",
    "TASKCHAIN_OTS_ENDPOINT": "https://example.cn-hangzhou.ots.aliyuncs.com",
    "TASKCHAIN_OTS_INSTANCE": "example",
    "TASKCHAIN_API_TOKENS": TOKENS,
}
# Run after the handler is built: one request that needs no store, then the SDK modules loaded.
# The bare ``botocore`` package is not listed: Powertools' own __init__ imports it (only it, for
# its user agent) in every configuration, so the floor of any Powertools handler has it too.
REPORT = """
import json, sys
from taskchain.http.events import LocalContext, http_event
reply = handler(http_event("GET", "/health"), LocalContext())
sdk = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("boto3", "s3transfer", "tablestore", "aiohttp")
    or m.startswith(("botocore.", "aws_lambda_powertools.utilities.idempotency"))
)
print(json.dumps({"status": reply["statusCode"], "sdk": sdk}))
"""


def cold_start(env: Mapping[str, str], build: str) -> dict[str, object]:
    """What a fresh interpreter with ``env`` has imported after ``build`` and one /health."""
    prefixes = ("TASKCHAIN_", "AWS_", "ALIBABA_CLOUD_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    result = subprocess.run(
        [sys.executable, "-c", build + REPORT],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_the_lambda_shell_starts_without_boto3_or_botocore() -> None:
    # GIVEN the Lambda configuration (DynamoDB sessions and idempotency records, service tokens)
    # WHEN the shell is imported (it builds the handler) and answers a request without the store
    report = cold_start(LAMBDA_ENV, "from handlers.aws_lambda import handler")
    # THEN neither boto3 nor any botocore module has been imported yet
    assert report == {"status": 200, "sdk": []}


def test_the_fc_shell_builds_its_handler_without_the_tablestore_sdk() -> None:
    # GIVEN the Function Compute configuration (Tablestore sessions and idempotency records)
    # WHEN the shell builds its handler, as on its first call, and answers a request without
    # the store
    report = cold_start(
        FC_ENV,
        "import handlers.aliyun_fc\n"
        "from taskchain.bootstrap import cached_handler\n"
        "handler = cached_handler()\n",
    )
    # THEN the tablestore SDK (nor boto3, nor botocore) has not been imported yet
    assert report == {"status": 200, "sdk": []}


def together(count: int, work: Any) -> list[Any]:
    """``work()`` run by ``count`` threads released at once; what each returned or raised."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work()
        except Exception as exc:  # the assertion names it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_every_model_of_taskchain_is_built_on_first_use_not_at_import() -> None:
    # GIVEN every module of taskchain imported
    for module in pkgutil.walk_packages(taskchain.__path__, "taskchain."):
        importlib.import_module(module.name)
    # WHEN its pydantic models are listed
    models = [
        cls
        for cls in _subclasses(BaseModel)
        if cls.__module__.startswith("taskchain.") and cls is not Model
    ]
    # THEN each derives from taskchain's Model, whose build is deferred to its first use
    assert len(models) > 50
    assert [cls.__qualname__ for cls in models if not issubclass(cls, Model)] == []
    assert Model.model_config.get("defer_build") is True


def _subclasses(cls: type) -> list[type]:
    """Every subclass of ``cls``, however indirect."""
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def test_a_model_built_on_first_use_is_built_once_when_requests_first_use_it_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a model built on first use (as every taskchain model is) whose build takes a while
    class Late(BaseModel):
        model_config = ConfigDict(defer_build=True, extra="forbid")

        name: str

    builds: list[int] = []
    complete = _model_construction.complete_model_class

    def slow(cls: type[BaseModel], *args: Any, **kwargs: Any) -> bool:
        if cls is Late:
            builds.append(threading.get_ident())
            time.sleep(0.05)  # every other thread arrives while it builds
        return complete(cls, *args, **kwargs)

    monkeypatch.setattr(_model_construction, "complete_model_class", slow)

    def use() -> str:
        with pytest.raises(ValidationError):
            Late.model_validate({"name": "x", "unknown": 1})
        return Late(name="x").name

    # WHEN eight requests use it for the first time at once (taskchain.modelbase is imported)
    results = together(8, use)
    # THEN it is built once, and every request validates with its own rules
    assert len(builds) == 1
    assert results == ["x"] * 8


def test_requests_that_arrive_together_on_a_fresh_instance_share_one_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a fresh instance whose handler takes a while to build
    built: list[object] = []

    def make_handler() -> object:
        time.sleep(0.05)
        built.append(object())
        return built[-1]

    monkeypatch.setattr(bootstrap, "make_handler", make_handler)
    bootstrap._handler.cache_clear()
    # WHEN eight requests arrive at once (FC serves several per instance)
    try:
        handlers = together(8, bootstrap.cached_handler)
    finally:
        bootstrap._handler.cache_clear()
    # THEN the handler is built once and every request is served by it
    assert len(built) == 1
    assert handlers == built * 8
