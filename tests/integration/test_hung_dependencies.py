"""A hung dependency answers in bounded time: DynamoDB (sessions, idempotency records) and SSM.

Every AWS client is pointed at :class:`~tests.integration.hung_server.HungServer`, which accepts
connections and never answers, as a frozen DynamoDB or SSM does. The clients' timeouts are
lowered through the module constants :func:`taskchain.store.aws_config.client_config` reads, so a
hung call costs about a second here; :func:`test_the_production_budget_fits_the_function_timeout`
checks the production numbers by arithmetic.

The one timed assertion is :data:`BOUND`: not a speed benchmark but the proof that a call
returns at all (without the timeouts it would wait for as long as the server holds the
connection). It is an order of magnitude above what the lowered timeouts allow, so a slow CI
machine cannot fail it; a missing timeout fails it every time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pytest

from taskchain.bootstrap import bootstrap, make_handler
from taskchain.config import ConfigError
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event
from taskchain.service import Service
from taskchain.store import aws_config, dynamodb
from taskchain.store.dynamodb import DynamoDBStore
from taskchain.store.idempotency_dynamodb import dynamodb_layer
from tests.aws_template import load_template
from tests.integration.hung_server import HungServer

T = TypeVar("T")

BOUND = 15.0  # seconds; a hung call here takes under 1 s (3 attempts of 0.2 s)
TOKEN = "test-token-acme"
ANALYSIS = {
    "task_type": "analysis",
    "target": "一家社区咖啡店是否应该推出会员订阅制",
    "config": {"focus_areas": ["成本", "客户留存"]},
}
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """0.2 s connect and read timeouts for every client built during the test."""
    monkeypatch.setattr(aws_config, "CONNECT_TIMEOUT", 0.2)
    monkeypatch.setattr(aws_config, "READ_TIMEOUT", 0.2)


@pytest.fixture
def env(
    hung_server: HungServer, short_timeouts: None, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A deployed function's configuration with DynamoDB (sessions and idempotency) hung."""
    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    # Only what the test points at the hung server: nothing from the machine's AWS setup.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    return {
        "TASKCHAIN_STORE": "dynamodb",
        "TASKCHAIN_TABLE_NAME": "sessions",
        "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": "idempotency",
        "TASKCHAIN_DYNAMODB_ENDPOINT": hung_server.url,
        "TASKCHAIN_API_TOKENS": f"acme=sha256:{token_digest(TOKEN)}",
    }


def within(seconds: float, call: Callable[[], T]) -> T | BaseException:
    """What ``call()`` returned or raised, asserting it did so within ``seconds``."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)  # a hung worker must not block the exit
    worker.start()
    worker.join(timeout=seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s: the dependency hangs it"
    return outcome[0]


class Api:
    """Function URL events through one handler, each call bounded by :data:`BOUND`."""

    def __init__(self, env: Mapping[str, str], service: Service | None = None) -> None:
        self.handler = make_handler(dict(env), service=service)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        sent = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        event = http_event(method, path, headers=sent, body=body, query=query)
        response = within(BOUND, lambda: self.handler(event, LocalContext()))
        assert not isinstance(response, BaseException), response
        out_headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        return response["statusCode"], out_headers, json.loads(response["body"])


def assert_store_unavailable(answer: tuple[int, dict[str, str], Any]) -> None:
    status, headers, body = answer
    assert (status, body["error_code"]) == (503, "STORE_UNAVAILABLE"), body
    assert int(headers["retry-after"]) >= 1


# --- the budget -----------------------------------------------------------------------------------


def test_the_production_budget_fits_the_function_timeout() -> None:
    default = load_template()["Parameters"]["FunctionTimeout"]["Default"]
    # A failing call and, at most, Powertools' clean-up of its in-progress record after it.
    assert 2 * dynamodb.call_budget() < default


def test_the_store_and_the_idempotency_records_share_one_bounded_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    store = DynamoDBStore("sessions", endpoint_url="http://127.0.0.1:9")
    layer: Any = dynamodb_layer("idempotency", "http://127.0.0.1:9")

    configs: list[Any] = [store._dynamodb().meta.config, layer.client.meta.config]
    for config in configs:
        assert config.retries == {"mode": "standard", "total_max_attempts": dynamodb.MAX_ATTEMPTS}
        assert (config.connect_timeout, config.read_timeout) == (
            dynamodb.CONNECT_TIMEOUT,
            dynamodb.READ_TIMEOUT,
        )


# --- a hung session store -------------------------------------------------------------------------

ROUTES = [
    ("POST", "/v1/sessions", ANALYSIS),
    ("GET", "/v1/sessions", None),
    ("GET", "/v1/sessions/s1", None),
    ("DELETE", "/v1/sessions/s1", None),
    ("POST", "/v1/sessions/s1/steps/understand_goal", {"output": "# 目标\n内容"}),
    ("POST", "/v1/sessions/s1/steps/understand_goal/skip", {"reason": "不需要"}),
    ("GET", "/v1/sessions/s1/report", None),
]


@pytest.mark.integration
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_hung_session_store_answers_store_unavailable_in_bounded_time(
    env: dict[str, str], hung_server: HungServer, method: str, path: str, body: Any
) -> None:
    accepted = hung_server.accepted
    assert_store_unavailable(Api(env)(method, path, body))
    assert hung_server.accepted > accepted  # it timed out reading, not refused


@pytest.mark.integration
def test_a_hung_store_makes_the_deep_health_check_unhealthy_in_bounded_time(
    env: dict[str, str],
) -> None:
    status, _, body = Api(env)("GET", "/health", query={"deep": "true"})
    assert (status, body["checks"]) == (503, {"store": "unavailable"})


# --- hung idempotency records ---------------------------------------------------------------------


@pytest.fixture
def memory_service() -> Service:
    """Sessions in memory, so only the idempotency records are on the hung server."""
    return bootstrap({"TASKCHAIN_STORE": "memory"})


@pytest.mark.integration
def test_a_keyed_start_with_hung_idempotency_records_creates_nothing(
    env: dict[str, str], hung_server: HungServer, memory_service: Service
) -> None:
    api = Api(env, service=memory_service)
    accepted = hung_server.accepted

    answer = api("POST", "/v1/sessions", ANALYSIS, headers={"Idempotency-Key": "start-1"})

    assert_store_unavailable(answer)
    assert hung_server.accepted > accepted
    assert memory_service.store.list("acme").items == []


@pytest.mark.integration
def test_a_keyed_submit_with_hung_idempotency_records_changes_nothing(
    env: dict[str, str], memory_service: Service
) -> None:
    api = Api(env, service=memory_service)
    status, _, session = api("POST", "/v1/sessions", ANALYSIS)  # no key: no idempotency record
    assert status == 201
    path = f"/v1/sessions/{session['session_id']}"

    answer = api(
        "POST",
        f"{path}/steps/understand_goal",
        {"output": "# 目标\n内容", "expected_version": session["version"]},
        headers={"Idempotency-Key": "submit-1"},
    )

    assert_store_unavailable(answer)
    status, _, after = api("GET", path)
    assert status == 200
    assert after["version"] == session["version"]


# --- a hung SSM at cold start ---------------------------------------------------------------------


@pytest.mark.integration
def test_a_hung_ssm_fails_the_cold_start_in_bounded_time_naming_the_parameter(
    env: dict[str, str], hung_server: HungServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", hung_server.url)  # botocore's per-service endpoint
    configured = {
        **env,
        "TASKCHAIN_API_TOKENS": "",
        "TASKCHAIN_API_TOKENS_PARAMETER": "/taskchain/api-tokens",
    }
    accepted = hung_server.accepted

    failure = within(BOUND, lambda: make_handler(configured))

    assert isinstance(failure, ConfigError), failure
    assert failure.variable == "TASKCHAIN_API_TOKENS_PARAMETER"
    assert "ReadTimeoutError" in str(failure)
    assert hung_server.accepted > accepted
