"""The Lambda handler on DynamoDB Local: a guided session, idempotency, tenants, a race, throttling."""

from __future__ import annotations

import json
import multiprocessing
import os
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from taskchain.bootstrap import make_handler
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event
from taskchain.service import Service
from taskchain.store.dynamodb import DynamoDBStore
from tests.aws_template import table_properties_from_template
from tests.factories import bad_output, good_output
from tests.integration.dynamodb_local import REGION, new_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration

TOKENS = {"acme": "test-token-acme", "globex": "test-token-globex"}
ANALYSIS = {
    "task_type": "analysis",
    "target": "一家社区咖啡店是否应该推出会员订阅制",
    "config": {"focus_areas": ["成本", "客户留存"]},
}
RACERS = 20
AWS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION}


@pytest.fixture
def idempotency_table(dynamodb_client: DynamoDBClient) -> Iterator[str]:
    """A fresh table built from template.yaml's IdempotencyTable properties."""
    properties = table_properties_from_template(resource="IdempotencyTable")
    name = f"idempotency-{uuid.uuid4().hex[:12]}"
    dynamodb_client.create_table(
        TableName=name,
        **{k: properties[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")},
    )
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def env(
    dynamodb_local_endpoint: str,
    sessions_table: str,
    idempotency_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The configuration a deployed function gets, pointed at DynamoDB Local."""
    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    return {
        "TASKCHAIN_STORE": "dynamodb",
        "TASKCHAIN_TABLE_NAME": sessions_table,
        "TASKCHAIN_IDEMPOTENCY_TABLE_NAME": idempotency_table,
        "TASKCHAIN_DYNAMODB_ENDPOINT": dynamodb_local_endpoint,
        "TASKCHAIN_API_TOKENS": ",".join(
            f"{tenant}=sha256:{token_digest(token)}" for tenant, token in TOKENS.items()
        ),
    }


class Api:
    """Function URL events through one handler; answers as ``(status, headers, body)``."""

    def __init__(self, env: Mapping[str, str], service: Service | None = None) -> None:
        self.handler = make_handler(dict(env), service=service)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        tenant: str = "acme",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        sent = {"Authorization": f"Bearer {TOKENS[tenant]}", **(headers or {})}
        response = self.handler(
            http_event(method, path, headers=sent, body=body, query=query), LocalContext()
        )
        out_headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        return response["statusCode"], out_headers, json.loads(response["body"])


def test_full_guided_session_through_the_handler(env: dict[str, str]) -> None:
    api = Api(env)
    assert api("GET", "/health", query={"deep": "true"})[2]["checks"] == {"store": "ok"}
    status, _, session = api("POST", "/v1/sessions", ANALYSIS, headers={"X-AIPlugin-UID": "u1"})
    assert status == 201
    sid = session["session_id"]
    path = f"/v1/sessions/{sid}/steps"
    status, _, rejected = api("POST", f"{path}/understand_goal", {"output": bad_output()})
    assert (status, rejected["accepted"]) == (200, False)
    version, ready = rejected["version"], rejected["ready_steps"]
    while ready:
        guidance = ready[0]
        status, _, answer = api(
            "POST",
            f"{path}/{guidance['step_id']}",
            {"output": good_output(guidance), "expected_version": version},
        )
        assert (status, answer["accepted"]) == (200, True), answer["feedback"]
        version, ready = answer["version"], answer["ready_steps"]
    assert answer["status"] == "completed"
    _, _, report = api("GET", f"/v1/sessions/{sid}/report", query={"format": "markdown"})
    assert report["partial"] is False
    assert "##" in report["markdown"]
    _, _, listed = api("GET", "/v1/sessions", query={"user": "u1"})
    assert [s["session_id"] for s in listed["sessions"]] == [sid]
    assert api("DELETE", f"/v1/sessions/{sid}")[0] == 200
    assert api("GET", f"/v1/sessions/{sid}")[0] == 404


def test_idempotent_replay_on_the_real_idempotency_table(env: dict[str, str]) -> None:
    # Two handlers: two Lambda instances sharing the tables.
    first, second = Api(env), Api(env)
    key = {"Idempotency-Key": "start-0001"}
    one = first("POST", "/v1/sessions", ANALYSIS, headers=key)
    two = second("POST", "/v1/sessions", ANALYSIS, headers=key)
    assert one[0] == two[0] == 201
    assert one[2] == two[2]
    assert two[1]["idempotent-replayed"] == "true"
    assert len(first("GET", "/v1/sessions")[2]["sessions"]) == 1
    status, _, reused = second("POST", "/v1/sessions", {**ANALYSIS, "target": "别的"}, headers=key)
    assert (status, reused["error_code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert first("POST", "/v1/sessions", ANALYSIS, headers=key, tenant="globex")[0] == 201


def test_tenants_cannot_see_each_others_sessions(env: dict[str, str]) -> None:
    api = Api(env)
    sid = api("POST", "/v1/sessions", ANALYSIS)[2]["session_id"]
    foreign = api("GET", f"/v1/sessions/{sid}", tenant="globex")
    submit = api(
        "POST", f"/v1/sessions/{sid}/steps/understand_goal", {"output": "x"}, tenant="globex"
    )
    assert (foreign[0], foreign[2]["error_code"]) == (404, "SESSION_NOT_FOUND")
    assert (submit[0], submit[2]["error_code"]) == (404, "SESSION_NOT_FOUND")
    assert api("GET", "/v1/sessions", tenant="globex")[2]["sessions"] == []
    assert api("GET", f"/v1/sessions/{sid}")[2]["version"] == 1


# Each racer is its own process, as each Lambda instance is, and builds its own handler (its
# own boto3 client) from the environment. A forkserver that has already imported the modules
# forks them, so twenty cold starts do not each pay for importing boto3 on a small machine.
PRELOAD = ["boto3", "botocore.session", "taskchain.http.entry", "taskchain.store.dynamodb"]


def _racer(env: dict[str, str], event: dict[str, Any], barrier: Any, results: Any) -> None:
    os.environ.update(env)
    handler = make_handler(env)
    barrier.wait(timeout=120)
    response = handler(event, LocalContext())
    results.put({"status": response["statusCode"], "body": json.loads(response["body"])})


def test_twenty_processes_racing_one_step_have_exactly_one_winner(env: dict[str, str]) -> None:
    # GIVEN a session whose first step is ready, and one good output for it
    api = Api(env)
    session = api("POST", "/v1/sessions", ANALYSIS)[2]
    sid, guidance = session["session_id"], session["ready_steps"][0]
    output = good_output(guidance)
    event = http_event(
        "POST",
        f"/v1/sessions/{sid}/steps/{guidance['step_id']}",
        headers={"Authorization": f"Bearer {TOKENS['acme']}"},
        body={"output": output},
    )
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    barrier, results = context.Barrier(RACERS + 1), context.Queue()
    racers = [
        context.Process(target=_racer, args=({**env, **AWS}, event, barrier, results))
        for _ in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    try:
        # WHEN all of them, handlers built, submit at once
        barrier.wait(timeout=120)
        answers = [results.get(timeout=120) for _ in racers]
    finally:
        for racer in racers:
            racer.join(timeout=30)
            if racer.is_alive():
                racer.kill()
    # THEN exactly one is accepted, every other one is a conflict
    accepted = [r for r in answers if r["status"] == 200 and r["body"]["accepted"]]
    conflicts = [r for r in answers if r["status"] == 409]
    assert (len(accepted), len(conflicts)) == (1, RACERS - 1), answers
    assert {r["body"]["error_code"] for r in conflicts} <= {"STALE_VERSION", "STEP_ALREADY_DONE"}
    # AND the session holds that one output, once: nothing lost, nothing doubled
    _, _, after = api("GET", f"/v1/sessions/{sid}")
    assert after["version"] == 2
    assert after["progress"]["completed"] == 1
    done = [s for s in after["finished_steps"] if s["step_id"] == guidance["step_id"]]
    assert len(done) == 1
    assert done[0]["attempts"] == 1
    _, _, report = api("GET", f"/v1/sessions/{sid}/report")
    assert output.strip() in json.dumps(report, ensure_ascii=False).replace("\\n", "\n")


def test_throttling_is_503_with_retry_after(
    env: dict[str, str], dynamodb_local_endpoint: str, sessions_table: str
) -> None:
    # GIVEN a store whose client DynamoDB throttles on every call
    client = new_client(dynamodb_local_endpoint, max_attempts=1)

    def throttle(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Request"
        )

    healthy = Api(env)
    sid = healthy("POST", "/v1/sessions", ANALYSIS)[2]["session_id"]
    client.meta.events.register("before-send.dynamodb.*", throttle)
    api = Api(env, service=Service(DynamoDBStore(sessions_table, client=client)))
    # WHEN the API is used THEN it answers 503 with Retry-After, and the session is unchanged
    for status, headers, body in (
        api("POST", "/v1/sessions", ANALYSIS),
        api("GET", f"/v1/sessions/{sid}"),
        api("POST", f"/v1/sessions/{sid}/steps/understand_goal", {"output": bad_output()}),
    ):
        assert (status, body["error_code"]) == (503, "STORE_UNAVAILABLE")
        assert int(headers["retry-after"]) >= 1
    assert healthy("GET", f"/v1/sessions/{sid}")[2]["version"] == 1
