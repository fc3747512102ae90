"""Long runs over HTTP, through both platform shells: ``POST /v1/runs`` (202), ``GET
/v1/runs/{id}``, ``POST /v1/runs/{id}/continue``, the Coze tools ``startRun`` / ``getRun`` /
``continueRun``, and one-shot calls that run out of their invocation's time.

The model is the fake OpenAI server answering each step with the quality corpus's good answer
(tests/support/corpus_model.py). The local server's launcher (background threads) works
started runs; a handler without one (Function Compute's) works a run within each call's time.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import aliyun_fc
from taskchain.bootstrap import make_handler
from taskchain.http.events import LocalContext, http_event
from taskchain.http.local import make_server
from taskchain.launchers import DurableLauncher
from taskchain.service import Service
from taskchain.store.memory import MemoryStore
from tests.functional.test_cold_start import LAMBDA_ENV, cold_start
from tests.functional.test_http_api import (
    ENV,
    TOKENS,
    Api,
    FcInvocationContext,
    Reply,
    assert_error,
)
from tests.support.corpus_model import RUN, STEPS, corpus_answers, model_env, step_asked
from tests.support.fake_openai import Behaviour, FakeOpenAI, RecordedRequest

RUN_KEYS = {
    "success",
    "run_id",
    "status",
    "executor",
    "progress",
    "current_steps",
    "attempts",
    "model_usage",
    "elapsed",
    "updated_at",
}


class RunsApi(Api):
    """:class:`Api` whose invocations have ``time_ms`` left when they start."""

    def __init__(self, handler: Any, time_ms: int = 30_000) -> None:
        super().__init__(handler)
        self.time_ms = time_ms

    def send(self, event: dict[str, Any]) -> Reply:
        if self.shell == "fc":
            # The FC shell reads the function's timeout from TASKCHAIN_FUNCTION_TIMEOUT_MS.
            saved, aliyun_fc._TIMEOUT_MS = aliyun_fc._TIMEOUT_MS, self.time_ms
            try:
                return super().send(event)
            finally:
                aliyun_fc._TIMEOUT_MS = saved
        raw = self.handler(event, LocalContext(timeout_ms=self.time_ms))
        text = raw.get("body") or ""
        return Reply(
            raw["statusCode"],
            {k.lower(): v for k, v in (raw.get("headers") or {}).items()},
            json.loads(text) if text else None,
            text,
        )

    def direct(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A direct invocation of the one-shot contract (AWS) or an event invocation (FC)."""
        if self.shell == "fc":
            saved, aliyun_fc._TIMEOUT_MS = aliyun_fc._TIMEOUT_MS, self.time_ms
            try:
                raw = json.dumps(payload, ensure_ascii=False).encode()
                return dict(aliyun_fc.serve(self.handler, raw, FcInvocationContext()))
            finally:
                aliyun_fc._TIMEOUT_MS = saved
        return dict(self.handler(dict(payload), LocalContext(timeout_ms=self.time_ms)))


@pytest.fixture(params=["lambda", "fc"])
def shell(request: pytest.FixtureRequest) -> Iterator[str]:
    """A test through each platform shell (every one that calls the API)."""
    Api.shell = request.param
    yield request.param
    Api.shell = "lambda"


@pytest.fixture
def model(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.responder = corpus_answers
    return fake_openai


def env_of(model: FakeOpenAI) -> dict[str, str]:
    return {**ENV, **model_env(model)}


@pytest.fixture
def local(model: FakeOpenAI, shell: str) -> RunsApi:
    """The handler of the local server: started runs go on in its background threads."""
    return RunsApi(make_handler(env_of(model), background=True))


@pytest.fixture
def inline(model: FakeOpenAI, shell: str) -> RunsApi:
    """A handler with no background engine (Function Compute's): a call works a run itself."""
    return RunsApi(make_handler(env_of(model)))


def until_ended(api: Api, run_id: str, path: str = "/v1/runs/{}") -> dict[str, Any]:
    """Poll the run until it is no longer running; its last view (a hang fails, never a delay)."""
    for _ in range(1200):
        reply = api.get(path.format(run_id))
        assert reply.status == 200, reply.body
        if reply.body["status"] != "running":
            return dict(reply.body)
        time.sleep(0.025)
    raise AssertionError(f"run {run_id} did not end")


def asked(model: FakeOpenAI) -> list[str]:
    """The chain steps the model was asked to write, in order."""
    return [step_asked(r) for r in model.requests]


# --- POST /v1/runs, GET /v1/runs/{id} ------------------------------------------------------------


def test_a_started_run_answers_202_and_is_worked_in_the_background_to_its_result(
    local: RunsApi, model: FakeOpenAI
) -> None:
    # GIVEN a model that holds its answer to the third step until the test has looked
    arrived, release = threading.Event(), threading.Event()

    def holds_third_step(request: RecordedRequest) -> Behaviour:
        if step_asked(request) == STEPS[2]:
            arrived.set()
            release.wait(30)
        return corpus_answers(request)

    model.responder = holds_third_step
    try:
        run_id = check_progress(local, arrived)
    finally:
        release.set()
    # AND once it has ended, GET answers the result in the one-shot shape
    ended = until_ended(local, run_id)
    assert ended["status"] == "completed"
    assert ended["current_steps"] == []
    assert "next" not in ended
    result = ended["result"]
    assert (result["success"], result["content"], result["run_id"]) == (True, "answers", run_id)
    assert [r["task_id"] for r in result["execution_results"]] == list(STEPS)
    assert result["execution_summary"]["model_usage"]["calls"] == 4
    assert ended["model_usage"]["calls"] == 4
    assert asked(model) == list(STEPS)


def check_progress(local: RunsApi, arrived: threading.Event) -> str:
    """Start a run; check its 202 and, once the model holds the third step, its progress."""
    # WHEN a run is started
    started = local.post("/v1/runs", RUN)
    # THEN it answers 202 at once with the stored run: no step done yet, the first one current
    assert started.status == 202, started.body
    body = started.body
    assert set(body) == RUN_KEYS | {"next"}
    run_id = body["run_id"]
    assert (body["status"], body["executor"], body["attempts"]) == ("running", "llm", 0)
    assert body["progress"] == {"completed": 0, "failed": 0, "skipped": 0, "total": 4}
    assert [s["step_id"] for s in body["current_steps"]] == [STEPS[0]]
    assert f"/v1/runs/{run_id}" in body["next"]
    # AND while the model writes the third step, GET shows the progress so far
    assert arrived.wait(30)
    midway = local.get(f"/v1/runs/{run_id}").body
    assert midway["status"] == "running"
    assert midway["progress"]["completed"] == 2
    assert midway["current_steps"] == [
        {"step_id": STEPS[2], "name": midway["current_steps"][0]["name"], "attempts": 0,
         "max_attempts": 3}
    ]  # fmt: skip
    assert midway["model_usage"]["calls"] == 2
    assert midway["model_usage"]["completion_tokens"] > 0
    assert "result" not in midway
    return str(run_id)


def test_a_run_is_a_session_its_status_and_reports_are_served(
    local: RunsApi, model: FakeOpenAI
) -> None:
    run_id = local.post("/v1/runs", RUN).body["run_id"]
    until_ended(local, run_id)
    session = local.get(f"/v1/sessions/{run_id}")
    assert session.status == 200
    assert (session.body["session_id"], session.body["status"]) == (run_id, "completed")
    report = local.get(f"/v1/sessions/{run_id}/report")
    assert report.status == 200
    assert report.body["partial"] is False
    assert report.body["key_findings"]
    markdown = local.get(f"/v1/sessions/{run_id}/report", query={"format": "markdown"})
    assert markdown.status == 200
    assert "理解目标" in markdown.body["markdown"]
    listed = local.get("/v1/sessions").body["sessions"]
    assert [s["session_id"] for s in listed] == [run_id]


def test_unknown_and_other_tenants_runs_are_404(local: RunsApi, model: FakeOpenAI) -> None:
    for reply in (
        local.get("/v1/runs/0123456789abcdef"),
        local.post("/v1/runs/0123456789abcdef/continue"),
    ):
        assert_error(reply, 404, "RUN_NOT_FOUND")
    run_id = local.post("/v1/runs", RUN).body["run_id"]
    until_ended(local, run_id)
    assert_error(local.get(f"/v1/runs/{run_id}", tenant="globex"), 404, "RUN_NOT_FOUND")
    # An id no run can have is refused before any store is asked.
    assert_error(local.get("/v1/runs/bad*id"), 400, "INVALID_FIELD")


def test_the_run_operations_refuse_a_guided_session_and_leave_it_as_it_was(
    local: RunsApi, model: FakeOpenAI
) -> None:
    # GIVEN a guided session (its steps are the caller's to submit), and its Coze twin
    request = {**RUN, "config": {k: v for k, v in RUN["config"].items() if k != "executor"}}
    guided = local.post("/v1/sessions", request).body
    coze = local.post("/coze/sessions/start", request, headers=COZE_USER).body
    # WHEN the run operations are given their ids
    for reply in (
        local.get(f"/v1/runs/{guided['session_id']}"),
        local.post(f"/v1/runs/{guided['session_id']}/continue"),
    ):
        # THEN each says it is a guided session, not a run
        assert_error(reply, 404, "RUN_NOT_FOUND")
        assert "引导式会话" in reply.body["error"]
    for tool in ("/coze/runs/status", "/coze/runs/continue"):
        reply = local.post(tool, {"run_id": coze["session_id"]}, headers=COZE_USER)
        assert (reply.status, reply.body["error_code"]) == (200, "RUN_NOT_FOUND")
    # AND nothing was written: no model call, the sessions are where they were
    assert model.requests == []
    after = local.get(f"/v1/sessions/{guided['session_id']}").body
    assert (after["version"], after["progress"]["completed"]) == (1, 0)


def test_next_says_to_follow_a_run_an_engine_works_and_to_continue_one_none_does(
    local: RunsApi, inline: RunsApi
) -> None:
    started = local.post("/v1/runs", RUN).body
    assert "getRun" in started["next"]
    assert "continue" not in started["next"]
    until_ended(local, started["run_id"])
    partial = RunsApi(inline.handler, time_ms=1).post("/v1/runs", RUN).body
    assert partial["status"] == "running"
    assert "continueRun" in partial["next"]


def test_a_run_refuses_guided_submits_and_skips_and_stays_as_it_was(inline: RunsApi) -> None:
    # GIVEN a model run whose call had no time to work it
    run_id = RunsApi(inline.handler, time_ms=1).post("/v1/runs", RUN).body["run_id"]
    before = inline.get(f"/v1/sessions/{run_id}").body
    step = "understand_goal"  # ready
    # WHEN a caller submits or skips one of its steps, over REST and Coze
    for reply in (
        inline.post(f"/v1/sessions/{run_id}/steps/{step}", {"output": "写好的答案。"}),
        inline.post(f"/v1/sessions/{run_id}/steps/{step}/skip", {}),
    ):
        # THEN each is refused: the executor writes a run's steps
        assert_error(reply, 409, "SESSION_IS_A_RUN")
    coze = inline.post(
        "/coze/sessions/submit", {"session_id": run_id, "step_id": step, "output": "x"}
    )
    assert (coze.status, coze.body["error_code"]) == (200, "SESSION_IS_A_RUN")
    # AND the run is where it was
    assert inline.get(f"/v1/sessions/{run_id}").body["version"] == before["version"]


def test_next_says_to_continue_a_one_shot_run_nothing_works_in_the_background(
    local: RunsApi,
) -> None:
    # GIVEN a one-shot run that ran out of its call's time, on a server with a background engine
    partial = RunsApi(local.handler, time_ms=1).post("/v1/run", RUN).body
    assert partial["success"] is False
    # WHEN its progress is asked for, THEN next says to continue it (nothing else will)
    view = local.get(f"/v1/runs/{partial['run_id']}").body
    assert view["status"] == "running"
    assert "continue" in view["next"]
    assert "getRun" not in view["next"].split("；")[0]


def test_a_guided_start_that_names_an_executor_is_still_no_run(local: RunsApi) -> None:
    guided = local.post("/v1/sessions", RUN).body  # RUN names the llm executor
    assert guided["session_id"]
    assert_error(local.get(f"/v1/runs/{guided['session_id']}"), 404, "RUN_NOT_FOUND")


def test_a_run_is_started_once_per_idempotency_key(local: RunsApi, model: FakeOpenAI) -> None:
    key = {"Idempotency-Key": "run-2026-11-30-a"}
    first = local.post("/v1/runs", RUN, headers=key)
    again = local.post("/v1/runs", RUN, headers=key)
    assert (first.status, again.status) == (202, 202)
    assert again.body["run_id"] == first.body["run_id"]
    assert again.headers.get("idempotent-replayed") == "true"
    until_ended(local, first.body["run_id"])
    assert asked(model) == list(STEPS)  # one run, each step written once
    other = local.post(
        "/v1/runs", {**RUN, "target": "另一个目标：是否在二线城市开设第二家门店"}, headers=key
    )
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")


def test_an_invalid_run_request_is_refused_like_a_one_shot_one(local: RunsApi) -> None:
    assert_error(local.post("/v1/runs", {"target": "x"}), 400, "MISSING_REQUIRED_FIELD")
    assert_error(
        local.post("/v1/runs", {"task_type": "astrology", "target": "x"}), 400, "INVALID_TASK_TYPE"
    )


# --- without a background engine: the call's own time, then continue ----------------------------


def test_without_a_launcher_start_works_the_run_within_its_call_and_continue_finishes_it(
    inline: RunsApi, model: FakeOpenAI
) -> None:
    # GIVEN a start call with no time left to work (2 s, all of it the safety margin)
    inline.time_ms = 2_000
    started = inline.post("/v1/runs", RUN)
    # THEN the run is stored and answered with its progress: nothing done yet
    assert started.status == 202, started.body
    run_id = started.body["run_id"]
    assert (started.body["status"], started.body["progress"]["completed"]) == ("running", 0)
    assert model.requests == []
    # WHEN it is continued by a call with time to work
    inline.time_ms = 30_000
    continued = inline.post(f"/v1/runs/{run_id}/continue")
    # THEN that call worked it to its end and answers the result
    assert continued.status == 200, continued.body
    assert continued.body["status"] == "completed"
    assert continued.body["result"]["success"] is True
    assert asked(model) == list(STEPS)
    # AND continuing an ended run answers it as it is, working nothing
    again = inline.post(f"/v1/runs/{run_id}/continue")
    assert (again.status, again.body["status"]) == (200, "completed")
    results = continued.body["result"]["execution_results"]
    assert again.body["result"]["execution_results"] == results
    assert len(model.requests) == 4


def test_with_time_for_everything_start_answers_the_finished_run(
    inline: RunsApi, model: FakeOpenAI
) -> None:
    started = inline.post("/v1/runs", RUN)
    assert started.status == 202
    assert started.body["status"] == "completed"
    assert started.body["result"]["success"] is True


# --- one-shot calls that run out of time -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/run", "/coze/run"])
def test_a_one_shot_run_without_time_answers_its_partial_result_with_run_id_and_next(
    inline: RunsApi, model: FakeOpenAI, path: str
) -> None:
    # GIVEN an invocation with 2 s left: less than the safety margin
    inline.time_ms = 2_000
    reply = inline.post(path, RUN)
    # THEN it answers at once, unfinished but resumable, instead of timing out
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["success"], body["error_code"]) == (False, "EXECUTION_FAILED")
    run_id = body["run_id"]
    assert body["session_id"] == run_id
    assert f"/v1/runs/{run_id}/continue" in body["next"]
    assert body["final_report"]["partial"] is True
    assert model.requests == []
    # AND the run it names goes on to its end
    inline.time_ms = 30_000
    assert inline.post(f"/v1/runs/{run_id}/continue").body["status"] == "completed"


def test_a_direct_invocation_without_time_answers_its_partial_result(
    inline: RunsApi, model: FakeOpenAI
) -> None:
    inline.time_ms = 1_000
    body = inline.direct(RUN)
    assert (body["success"], body["error_code"]) == (False, "EXECUTION_FAILED")
    assert f"/v1/runs/{body['run_id']}/continue" in body["next"]
    assert model.requests == []
    inline.time_ms = 30_000
    assert inline.direct(RUN)["success"] is True  # with time, the same call runs it all


# --- Coze ----------------------------------------------------------------------------------------


COZE_USER = {"X-AIPlugin-UID": "coze-user-7"}


def test_the_coze_tools_start_follow_and_continue_a_run(local: RunsApi, model: FakeOpenAI) -> None:
    started = local.post("/coze/runs/start", RUN, headers=COZE_USER)
    assert started.status == 200
    assert (started.body["success"], started.body["status"]) == (True, "running")
    run_id = started.body["run_id"]
    ended = until_ended_coze(local, run_id)
    assert ended["status"] == "completed"
    assert ended["result"]["success"] is True
    continued = local.post("/coze/runs/continue", {"run_id": run_id}, headers=COZE_USER)
    assert (continued.status, continued.body["status"]) == (200, "completed")
    assert len(model.requests) == 4
    # Another Coze user of the tenant cannot see it: the same answer as an unknown run.
    other = local.post("/coze/runs/status", {"run_id": run_id}, headers={"X-AIPlugin-UID": "u-8"})
    assert other.status == 200
    assert (other.body["success"], other.body["error_code"]) == (False, "RUN_NOT_FOUND")
    missing = local.post("/coze/runs/continue", {"run_id": "nope"}, headers=COZE_USER)
    assert (missing.status, missing.body["error_code"]) == (200, "RUN_NOT_FOUND")
    bad = local.post("/coze/runs/start", {"task_type": "analysis"}, headers=COZE_USER)
    assert (bad.status, bad.body["error_code"]) == (200, "MISSING_REQUIRED_FIELD")


def until_ended_coze(api: Api, run_id: str) -> dict[str, Any]:
    for _ in range(1200):
        reply = api.post("/coze/runs/status", {"run_id": run_id}, headers=COZE_USER)
        assert (reply.status, reply.body["success"]) == (200, True), reply.body
        if reply.body["status"] != "running":
            return dict(reply.body)
        time.sleep(0.025)
    raise AssertionError(f"run {run_id} did not end")


def test_coze_continue_works_a_run_where_no_background_engine_does(
    inline: RunsApi, model: FakeOpenAI
) -> None:
    inline.time_ms = 2_000
    started = inline.post("/coze/runs/start", RUN, headers=COZE_USER)
    assert (started.status, started.body["status"]) == (200, "running")
    inline.time_ms = 30_000
    continued = inline.post(
        "/coze/runs/continue", {"run_id": started.body["run_id"]}, headers=COZE_USER
    )
    assert (continued.body["success"], continued.body["status"]) == (True, "completed")


# --- AWS: the durable launcher ----------------------------------------------------------------------


class RefusingLambda:
    """A Lambda client whose invoke is throttled."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        raise ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke"
        )


def test_a_run_the_durable_function_could_not_take_is_503_and_stays_continuable(
    shell: str,
) -> None:
    # GIVEN an API whose durable launcher Lambda refuses
    client = RefusingLambda()
    launcher = DurableLauncher(
        "arn:aws:lambda:us-east-1:123456789012:function:runs:live", client=client
    )
    service = Service(MemoryStore(), launcher=launcher)
    api = RunsApi(make_handler(ENV, service=service))
    # WHEN a run is started
    reply = api.post("/v1/runs", {"task_type": "analysis", "target": "是否开设第二家门店"})
    # THEN 503 with Retry-After, naming the stored run
    assert_error(reply, 503, "RUN_NOT_LAUNCHED")
    assert reply.headers["retry-after"] == "5"
    run_id = reply.body["details"]["session_id"]
    assert client.calls[0]["FunctionName"].endswith(":live")
    assert client.calls[0]["InvocationType"] == "Event"
    # AND the run is stored, and can be continued over HTTP
    assert api.get(f"/v1/runs/{run_id}").body["status"] == "running"
    assert api.post(f"/v1/runs/{run_id}/continue").body["status"] == "completed"


def test_the_lambda_cold_start_with_a_runs_function_imports_no_aws_sdk() -> None:
    # GIVEN the deployed API function's configuration, runs function included
    env = {**LAMBDA_ENV, "TASKCHAIN_RUNS_FUNCTION": "arn:aws:lambda:us-east-1:1:function:r:live"}
    # WHEN it cold-starts and answers a request without the store
    report = cold_start(env, "from handlers.aws_lambda import handler")
    # THEN neither boto3 nor botocore nor the durable SDK were imported
    assert report == {"status": 200, "sdk": []}


def test_an_unqualified_runs_function_fails_the_cold_start_naming_the_variable() -> None:
    from taskchain.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        make_handler({**ENV, "TASKCHAIN_RUNS_FUNCTION": "taskchain-runs"})
    assert refused.value.variable == "TASKCHAIN_RUNS_FUNCTION"


def test_events_of_the_runs_routes_carry_the_documented_202() -> None:
    handler = make_handler(ENV)
    event = http_event(
        "POST",
        "/v1/runs",
        headers={"authorization": "Bearer test-token-acme"},
        body={"task_type": "analysis", "target": "是否开设第二家门店"},
    )
    response = handler(event, LocalContext())
    assert response["statusCode"] == 202
    doc = json.loads(handler(http_event("GET", "/openapi.json"), LocalContext())["body"])
    start = doc["paths"]["/v1/runs"]["post"]
    assert start["operationId"] == "v1StartRun"
    assert start["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunView"
    }
    assert "404" in doc["paths"]["/v1/runs/{run_id}"]["get"]["responses"]
    assert "404" in doc["paths"]["/v1/runs/{run_id}/continue"]["post"]["responses"]
    coze = {doc["paths"][p]["post"]["operationId"] for p in doc["paths"] if "/coze/runs/" in p}
    assert coze == {"startRun", "getRun", "continueRun"}


def test_the_local_server_works_started_runs_in_its_background(model: FakeOpenAI) -> None:
    # GIVEN the local server as `taskchain serve` builds it from the environment
    with make_server("127.0.0.1", 0, env_of(model)) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:

            def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                data = None if body is None else json.dumps(body).encode()
                request = urllib.request.Request(
                    server.url + path,
                    data=data,
                    method=method,
                    headers={"Authorization": f"Bearer {TOKENS['acme']}"},
                )
                with urllib.request.urlopen(request, timeout=30) as reply:
                    return reply.status, json.loads(reply.read())

            # WHEN a run is started over HTTP
            status, started = call("POST", "/v1/runs", RUN)
            assert (status, started["status"]) == (202, "running")
            # THEN it is worked after the answer, and polling sees it end
            for _ in range(1200):
                status, view = call("GET", f"/v1/runs/{started['run_id']}")
                if view["status"] != "running":
                    break
                time.sleep(0.025)
            assert (status, view["status"]) == (200, "completed")
            assert asked(model) == list(STEPS)
        finally:
            server.shutdown()
            thread.join(5)
