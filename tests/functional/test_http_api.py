"""Every HTTP route's contract through ``handler``: statuses, error bodies, auth, idempotency, Coze."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from handlers import aliyun_fc
from taskchain.bootstrap import Handler, make_handler
from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import StoreError
from taskchain.http import telemetry
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event
from taskchain.http.idempotency import Idempotency
from taskchain.http.local import make_server
from taskchain.http.routing import MAX_BODY_BYTES
from taskchain.service import Service
from taskchain.store import SessionPage
from taskchain.store.idempotency_sqlite import SqlitePersistenceLayer
from taskchain.store.memory import MemoryStore
from tests.factories import bad_output, good_output
from tools.fc_events import to_fc

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"acme": "test-token-acme", "globex": "test-token-globex"}
ENV = {
    "TASKCHAIN_STORE": "memory",
    "TASKCHAIN_API_TOKENS": ",".join(f"{t}=sha256:{token_digest(k)}" for t, k in TOKENS.items()),
}
ANALYSIS = {
    "task_type": "analysis",
    "target": "一家社区咖啡店是否应该推出会员订阅制",
    "config": {"depth": "detailed", "focus_areas": ["成本", "客户留存"]},
}
ERROR_KEYS = {"success", "error_code", "category", "error", "details"}
ENGLISH = {
    "task_type": "analysis",
    "target": "Should a neighbourhood café launch a coffee subscription?",
    "config": {"depth": "detailed", "focus_areas": ["cost", "retention"], "language": "en"},
}
# CJK ideographs plus CJK and full-width punctuation: none may appear in an English message.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@dataclass
class Reply:
    """A function URL response, decoded."""

    status: int
    headers: dict[str, str]
    body: Any
    text: str = ""

    @property
    def code(self) -> str | None:
        return self.body.get("error_code") if isinstance(self.body, dict) else None


class Api:
    """Builds payload-2.0 events, runs them through one handler, decodes the answers.

    ``shell`` is the platform the requests arrive through: ``lambda`` sends the function-URL
    event itself; ``fc`` sends it as the bytes of an Aliyun FC HTTP-trigger event to the FC shell,
    so every test here holds on both clouds.
    """

    shell = "lambda"

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        tenant: str | None = "acme",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        base64_body: bool = False,
    ) -> Reply:
        sent = dict(headers or {})
        if tenant is not None:
            sent.setdefault("Authorization", f"Bearer {TOKENS[tenant]}")
        event = http_event(
            method, path, headers=sent, query=query, body=body, base64_body=base64_body
        )
        return self.send(event)

    def send(self, event: dict[str, Any]) -> Reply:
        if self.shell == "fc":
            fc_event = json.dumps(to_fc(event), ensure_ascii=False).encode()
            raw = aliyun_fc.serve(self.handler, fc_event, FcInvocationContext())
        else:
            raw = self.handler(event, LocalContext())
        text = raw.get("body") or ""
        if raw.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return Reply(
            raw["statusCode"],
            {k.lower(): v for k, v in (raw.get("headers") or {}).items()},
            json.loads(text) if text else None,
            text,
        )

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def start(self, body: Mapping[str, Any] = ANALYSIS, **kw: Any) -> dict[str, Any]:
        reply = self.post("/v1/sessions", dict(body), **kw)
        assert reply.status == 201, reply.body
        return dict(reply.body)


@dataclass
class FcInvocationContext:
    """What FC's ``context`` carries that the FC shell reads."""

    request_id: str = "1-6750a1b2-0123456789abcdef"


@pytest.fixture(params=["lambda", "fc"], autouse=True)
def shell(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run every test of this module through each platform shell."""
    Api.shell = request.param
    yield request.param
    Api.shell = "lambda"


def build(service: Service | None = None, env: Mapping[str, str] = ENV, **kw: Any) -> Api:
    return Api(make_handler(dict(env), service=service, **kw))


@pytest.fixture
def api() -> Api:
    return build()


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.body) == ERROR_KEYS
    assert reply.body["success"] is False
    assert reply.body["error"]


class DownStore(MemoryStore):
    """A store whose backend is unreachable: every call raises ``STORE_UNAVAILABLE``."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__()
        self.details = {} if retry_after is None else {"retry_after": retry_after}

    def _down(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreError("存储不可用", "store unavailable", details=self.details)

    create = get = save = delete = ping = _down

    def list(self, *args: Any, **kwargs: Any) -> SessionPage:
        return self._down()


# --- health, catalogue, OpenAPI ------------------------------------------------------------


def test_health_needs_no_token_and_reveals_nothing_sensitive(api: Api) -> None:
    reply = api.get("/health", tenant=None)
    assert reply.status == 200
    assert reply.body["status"] == "healthy"
    assert reply.body["capabilities"] >= 10
    assert set(reply.body) <= {"status", "version", "capabilities", "store", "checks"}
    assert not any(word in json.dumps(reply.body) for word in ("acme", "globex", "sha256"))


def test_deep_health_checks_the_store_and_answers_503_when_it_is_down() -> None:
    assert build().get("/health", tenant=None, query={"deep": "true"}).body["checks"] == {
        "store": "ok"
    }
    reply = build(Service(DownStore())).get("/health", tenant=None, query={"deep": "true"})
    assert reply.status == 503
    assert reply.body["status"] == "unhealthy"


def test_templates_filter_search_and_language(api: Api) -> None:
    everything = api.get("/v1/templates").body
    assert everything["count"] == 4
    english = api.get("/v1/templates", query={"category": "analysis", "language": "en"}).body
    assert [t["key"] for t in english["templates"]] == ["analysis"]
    assert english["templates"][0]["name"].isascii()
    assert api.get("/v1/templates", query={"limit": "2"}).body["count"] == 2
    assert_error(api.get("/v1/templates", query={"limit": "lots"}), 400, "INVALID_FIELD")


def test_capabilities_lists_the_ten_standard_capabilities(api: Api) -> None:
    reply = api.get("/v1/capabilities")
    assert reply.status == 200
    registry = CapabilityRegistry.builtin()
    names = [c["name"] for c in reply.body["capabilities"]]
    assert reply.body["count"] == len(registry) == len(names)
    assert names == list(registry.names())
    assert names[:10] == ["理解分析", "需求提取", "信息检索", "数据整理", "创意生成",
                          "逻辑推理", "方案设计", "风险评估", "质量验证", "结果整合"]  # fmt: skip
    assert api.get("/health", tenant=None).body["capabilities"] == len(registry)


def test_openapi_document_lists_every_route_with_our_error_body(api: Api) -> None:
    doc = api.get("/openapi.json", tenant=None).body
    routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == {
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("GET", "/v1/templates"),
        ("GET", "/v1/capabilities"),
        ("POST", "/v1/run"),
        ("POST", "/v1/sessions"),
        ("GET", "/v1/sessions"),
        ("GET", "/v1/sessions/{session_id}"),
        ("DELETE", "/v1/sessions/{session_id}"),
        ("POST", "/v1/sessions/{session_id}/steps/{step_id}"),
        ("POST", "/v1/sessions/{session_id}/steps/{step_id}/skip"),
        ("GET", "/v1/sessions/{session_id}/report"),
        ("POST", "/v1/runs"),
        ("GET", "/v1/runs/{run_id}"),
        ("POST", "/v1/runs/{run_id}/continue"),
        ("POST", "/coze/run"),
        ("POST", "/coze/runs/start"),
        ("POST", "/coze/runs/status"),
        ("POST", "/coze/runs/continue"),
        ("POST", "/coze/sessions/start"),
        ("POST", "/coze/sessions/status"),
        ("POST", "/coze/sessions/submit"),
        ("POST", "/coze/sessions/skip"),
        ("POST", "/coze/sessions/report"),
        ("POST", "/coze/sessions/list"),
        ("GET", "/coze/templates"),
    }
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len({op["operationId"] for op in operations}) == len(operations)
    assert "ErrorBody" in doc["components"]["schemas"]
    start = doc["paths"]["/v1/sessions"]["post"]
    assert {"400", "401", "422"} <= set(start["responses"])
    assert "task_type" in json.dumps(start["requestBody"]) or "ChainRequest" in json.dumps(doc)
    # The Coze routes carry the tool names and the when-to-call summaries Coze shows the model.
    coze_submit = doc["paths"]["/coze/sessions/submit"]["post"]
    assert coze_submit["operationId"] == "submitStep"
    assert "调用" in coze_submit["summary"]
    # The answers are documented with their models: the REST status, or Coze's 200 either way.
    assert response_ref(start, "201") == "#/components/schemas/SessionView"
    assert [
        r["$ref"]
        for r in coze_submit["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    ] == [
        "#/components/schemas/SubmitView",
        "#/components/schemas/ErrorBody",
    ]


def response_ref(operation: dict[str, Any], status: str) -> str:
    return str(operation["responses"][status]["content"]["application/json"]["schema"]["$ref"])


# --- the guided flow -----------------------------------------------------------------------


def test_full_guided_flow_over_http(api: Api) -> None:
    # GIVEN a started analysis session
    session = api.start()
    sid, version = session["session_id"], session["version"]
    assert (session["status"], version) == ("active", 1)
    step = session["ready_steps"][0]
    # WHEN a bad output is submitted THEN it is rejected with feedback, nothing lost
    bad = api.post(f"/v1/sessions/{sid}/steps/{step['step_id']}", {"output": bad_output()})
    assert bad.status == 200
    assert bad.body["accepted"] is False
    assert bad.body["feedback"]
    version = bad.body["version"]
    # WHEN every ready step gets a good output THEN the chain completes
    ready = bad.body["ready_steps"]
    while ready:
        guidance = ready[0]
        reply = api.post(
            f"/v1/sessions/{sid}/steps/{guidance['step_id']}",
            {"output": good_output(guidance), "expected_version": version},
        )
        assert (reply.status, reply.body["accepted"]) == (200, True), reply.body["feedback"]
        version, ready = reply.body["version"], reply.body["ready_steps"]
    assert reply.body["status"] == "completed"
    status = api.get(f"/v1/sessions/{sid}").body
    assert status["progress"]["completed"] == status["progress"]["total"] == 4
    # THEN the Markdown report covers every step, and the JSON one is final
    markdown = api.get(f"/v1/sessions/{sid}/report", query={"format": "markdown"}).body
    assert markdown["partial"] is False
    assert markdown["markdown"].startswith("#")
    report = api.get(f"/v1/sessions/{sid}/report").body
    assert report["success"] is True
    assert report["partial"] is False


def test_run_answers_in_the_original_contract(api: Api) -> None:
    reply = api.post("/v1/run", ANALYSIS)
    assert reply.status == 200
    assert reply.body["success"] is True
    assert {"session_id", "execution_results", "final_report", "execution_summary"} <= set(
        reply.body
    )


def test_skip_and_delete(api: Api) -> None:
    sid = api.start()["session_id"]
    skipped = api.post(f"/v1/sessions/{sid}/steps/understand_goal/skip", {"reason": "已明确"})
    assert skipped.status == 200
    assert skipped.body["progress"]["skipped"] == 1
    assert api.call("DELETE", f"/v1/sessions/{sid}").body["deleted"] is True
    assert_error(api.get(f"/v1/sessions/{sid}"), 404, "SESSION_NOT_FOUND")
    assert_error(api.call("DELETE", f"/v1/sessions/{sid}"), 404, "SESSION_NOT_FOUND")


def test_listing_is_newest_first_and_paginated(api: Api) -> None:
    ids = [api.start()["session_id"] for _ in range(3)]
    first = api.get("/v1/sessions", query={"limit": "2"}).body
    second = api.get("/v1/sessions", query={"limit": "2", "cursor": first["next_cursor"]}).body
    listed = [s["session_id"] for s in first["sessions"] + second["sessions"]]
    assert sorted(listed) == sorted(ids)
    assert second["next_cursor"] is None
    assert_error(api.get("/v1/sessions", query={"limit": "0"}), 400, "INVALID_FIELD")


# --- conflicts ------------------------------------------------------------------------------


def test_conflicts_answer_409_with_the_state_in_details(api: Api) -> None:
    session = api.start()
    sid = session["session_id"]
    stale = api.post(
        f"/v1/sessions/{sid}/steps/understand_goal", {"output": "x", "expected_version": 5}
    )
    assert_error(stale, 409, "STALE_VERSION")
    assert stale.body["details"]["current_version"] == 1
    assert_error(
        api.post(f"/v1/sessions/{sid}/steps/analyse_in_depth", {"output": "x"}),
        409,
        "STEP_NOT_READY",
    )
    guidance = session["ready_steps"][0]
    path = f"/v1/sessions/{sid}/steps/{guidance['step_id']}"
    assert api.post(path, {"output": good_output(guidance)}).body["accepted"] is True
    assert_error(api.post(path, {"output": good_output(guidance)}), 409, "STEP_ALREADY_DONE")
    assert_error(api.post(f"/v1/sessions/{sid}/steps/nope", {"output": "x"}), 404, "STEP_NOT_FOUND")


# --- who may do what ------------------------------------------------------------------------


def test_missing_and_wrong_tokens_get_the_same_401(api: Api) -> None:
    missing = api.post("/v1/sessions", ANALYSIS, tenant=None)
    wrong = api.post("/v1/sessions", ANALYSIS, tenant=None, headers={"Authorization": "Bearer x"})
    wrong_key = api.post("/v1/sessions", ANALYSIS, tenant=None, headers={"X-Api-Key": "nope"})
    for reply in (missing, wrong, wrong_key):
        assert_error(reply, 401, "UNAUTHORIZED")
        assert reply.headers["www-authenticate"].startswith("Bearer")
        assert reply.body == missing.body
        assert "acme" not in json.dumps(reply.body)
        assert "globex" not in json.dumps(reply.body)


@pytest.mark.parametrize("header", [None, "X-Taskchain-Key"])
def test_the_401_names_both_ways_to_send_the_token(header: str | None) -> None:
    env = ENV if header is None else {**ENV, "TASKCHAIN_API_KEY_HEADER": header}
    api = build(env=env)
    for lang in ("zh", "en"):
        reply = api.get("/v1/sessions", tenant=None, headers={"Accept-Language": lang})
        assert_error(reply, 401, "UNAUTHORIZED")
        assert "Authorization: Bearer <" in reply.body["error"]
        assert f"{header or 'X-Api-Key'}: <" in reply.body["error"], reply.body["error"]


def test_bearer_and_api_key_header_both_authenticate(api: Api) -> None:
    by_header = api.start(tenant=None, headers={"x-api-key": TOKENS["acme"]})
    by_bearer = api.start(tenant=None, headers={"authorization": f"bearer {TOKENS['acme']}"})
    assert api.get(f"/v1/sessions/{by_header['session_id']}").status == 200
    assert api.get(f"/v1/sessions/{by_bearer['session_id']}").status == 200


def test_the_api_key_header_name_is_configurable() -> None:
    api = build(env={**ENV, "TASKCHAIN_API_KEY_HEADER": "X-Taskchain-Key"})
    assert (
        api.get("/v1/sessions", tenant=None, headers={"X-Taskchain-Key": TOKENS["acme"]}).status
        == 200
    )
    assert api.get("/v1/sessions", tenant=None, headers={"X-Api-Key": TOKENS["acme"]}).status == 401


def test_unauthenticated_callers_learn_nothing_about_their_body_or_routes(api: Api) -> None:
    assert_error(api.post("/v1/sessions", {"target": 1}, tenant=None), 401, "UNAUTHORIZED")
    assert_error(api.post("/v1/sessions", "{not json", tenant=None), 401, "UNAUTHORIZED")
    assert_error(api.get("/v9/whatever", tenant=None), 401, "UNAUTHORIZED")


def test_another_tenants_session_is_404_exactly_like_an_unknown_one(api: Api) -> None:
    # GIVEN a session of tenant acme
    sid = api.start()["session_id"]
    # WHEN tenant globex uses its id on every session route
    foreign = [
        api.get(f"/v1/sessions/{sid}", tenant="globex"),
        api.get(f"/v1/sessions/{sid}/report", tenant="globex"),
        api.post(f"/v1/sessions/{sid}/steps/understand_goal", {"output": "x"}, tenant="globex"),
        api.post(f"/v1/sessions/{sid}/steps/understand_goal/skip", {}, tenant="globex"),
        api.call("DELETE", f"/v1/sessions/{sid}", tenant="globex"),
        api.post("/coze/sessions/status", {"session_id": sid}, tenant="globex"),
    ]
    # THEN it gets what an unknown id gets, and acme's session is untouched
    for reply in foreign[:5]:
        assert_error(reply, 404, "SESSION_NOT_FOUND")
    assert foreign[5].status == 200
    assert foreign[5].code == "SESSION_NOT_FOUND"
    assert api.get(f"/v1/sessions/{sid}").body["version"] == 1
    assert api.get("/v1/sessions", tenant="globex").body["sessions"] == []
    api.call("DELETE", f"/v1/sessions/{sid}")
    assert api.get(f"/v1/sessions/{sid}", tenant="acme").body == foreign[0].body


def test_anonymous_mode_only_when_enabled() -> None:
    local = build(env={"TASKCHAIN_STORE": "memory", "TASKCHAIN_ALLOW_ANONYMOUS": "true"})
    assert local.start(tenant=None)["success"] is True
    assert_error(build().post("/v1/sessions", ANALYSIS, tenant=None), 401, "UNAUTHORIZED")


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"task_type": "analysis", "target": ', 400, "INVALID_JSON"),
        ("", 400, "MISSING_REQUIRED_FIELD"),
        ([1, 2], 400, "INVALID_FIELD"),
        ({"target": "x"}, 400, "MISSING_REQUIRED_FIELD"),
        ({"task_type": "analysis", "target": "   "}, 400, "MISSING_REQUIRED_FIELD"),
        ({"task_type": "astrology", "target": "x"}, 400, "INVALID_TASK_TYPE"),
        ({"task_type": "analysis", "target": "x" * 1001}, 400, "INVALID_FIELD"),
        (
            {"task_type": "custom", "target": "x", "custom_chain": [{"name": "a"}] * 21},
            422,
            "INVALID_CUSTOM_CHAIN",
        ),
        (
            {
                "task_type": "custom",
                "target": "x",
                "custom_chain": [
                    {"id": "a", "name": "甲", "dependencies": ["b"]},
                    {"id": "b", "name": "乙", "dependencies": ["a"]},
                ],
            },
            422,
            "INVALID_CUSTOM_CHAIN",
        ),
    ],
)
def test_bad_bodies_get_precise_codes_never_a_500(
    api: Api, body: Any, status: int, code: str
) -> None:
    for path in ("/v1/sessions", "/v1/run"):
        assert_error(api.post(path, body), status, code)


def test_bad_submit_and_query_values(api: Api) -> None:
    sid = api.start()["session_id"]
    path = f"/v1/sessions/{sid}/steps/understand_goal"
    assert_error(api.post(path, {"expected_version": 1}), 400, "MISSING_REQUIRED_FIELD")
    assert_error(api.post(path, {"output": "x", "expected_version": "v1"}), 400, "INVALID_FIELD")
    reply = api.get(f"/v1/sessions/{sid}/report", query={"format": "pdf"})
    assert_error(reply, 400, "INVALID_FIELD")
    assert reply.body["details"]["field"] == "format"


def test_json_is_read_whatever_the_content_type_says(api: Api) -> None:
    # curl -d sends JSON labelled application/x-www-form-urlencoded
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.post("/v1/sessions", json.dumps(ANALYSIS), headers=form).status == 201


def test_base64_bodies_are_decoded(api: Api) -> None:
    assert api.post("/v1/sessions", ANALYSIS, base64_body=True).status == 201
    broken = http_event(
        "POST", "/v1/sessions", headers={"authorization": f"Bearer {TOKENS['acme']}"}
    )
    broken.update(body="@@not base64@@", isBase64Encoded=True)
    assert_error(api.send(broken), 400, "INVALID_JSON")
    assert_error(api.post("/v1/sessions", b"\xff\xfe{}", base64_body=True), 400, "INVALID_JSON")


def test_bodies_over_256_kb_are_413(api: Api) -> None:
    sid = api.start()["session_id"]
    big = {"output": "字" * (MAX_BODY_BYTES // 3 + 10)}  # over 256 KB in UTF-8, valid otherwise
    path = f"/v1/sessions/{sid}/steps/understand_goal"
    assert_error(api.post(path, big), 413, "PAYLOAD_TOO_LARGE")
    assert_error(api.post(path, big, base64_body=True), 413, "PAYLOAD_TOO_LARGE")
    assert_error(
        api.post("/coze/sessions/submit", {**big, "session_id": sid, "step_id": "x"}),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    assert api.get(f"/v1/sessions/{sid}").body["version"] == 1


def test_unknown_routes_404_and_wrong_methods_405(api: Api) -> None:
    assert_error(api.get("/v2/sessions"), 404, "ROUTE_NOT_FOUND")
    assert_error(api.get("/v1/sessions/"), 404, "ROUTE_NOT_FOUND")
    reply = api.call("PUT", "/v1/sessions", ANALYSIS)
    assert_error(reply, 405, "METHOD_NOT_ALLOWED")
    assert reply.headers["allow"] == "GET, POST"
    assert api.call("PATCH", "/v1/sessions/abc").headers["allow"] == "DELETE, GET"
    assert_error(api.get("/coze/sessions/start"), 405, "METHOD_NOT_ALLOWED")


def test_error_messages_follow_the_language(api: Api) -> None:
    assert "缺少" in api.post("/v1/sessions", {"target": "x"}).body["error"]
    english = api.post(
        "/v1/sessions", {"target": "x"}, headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert english.body["error"].startswith("missing required field")
    by_config = api.post("/v1/sessions", {"target": "x", "config": {"language": "en"}})
    assert by_config.body["error"].startswith("missing required field")
    weighted = api.get("/v1/sessions/nope", headers={"Accept-Language": "en;q=0.3, zh-CN;q=0.8"})
    assert "没有会话" in weighted.body["error"]


def _skip_to_the_end(api: Api, sid: str) -> None:
    """Skip every step until the session is closed."""
    ready = api.get(f"/v1/sessions/{sid}").body["ready_steps"]
    while ready:
        skipped = api.post(f"/v1/sessions/{sid}/steps/{ready[0]['step_id']}/skip", {})
        ready = skipped.body["ready_steps"]


def test_errors_about_an_english_session_are_in_english_without_asking(api: Api) -> None:
    # GIVEN an English session, reached through REST and through Coze (whose plugin document
    # declares no Accept-Language header: a bot cannot ask for a language)
    session = api.start(ENGLISH)
    sid, first = session["session_id"], session["ready_steps"][0]
    step = f"/v1/sessions/{sid}/steps/{first['step_id']}"

    def coze(operation: str, **body: Any) -> Reply:
        return api.post(f"/coze/sessions/{operation}", {"session_id": sid, **body})

    def both(path: str, body: dict[str, Any], operation: str = "submit") -> list[Reply]:
        step_id = path.split("/")[5] if path.startswith("/v1/") else first["step_id"]
        return [api.post(path, body), coze(operation, step_id=step_id, **body)]

    # WHEN each mistake a caller can make about it is made, with no language in the request
    replies = {
        "STEP_NOT_READY": both(f"/v1/sessions/{sid}/steps/analyse_in_depth", {"output": "x"}),
        "STALE_VERSION": both(step, {"output": "x", "expected_version": 7}),
        "STEP_NOT_FOUND": both(f"/v1/sessions/{sid}/steps/nope", {"output": "x"}),
        "MISSING_REQUIRED_FIELD": both(step, {"output": ""}),
        "INVALID_FIELD": both(f"{step}/skip", {"reason": "r" * 501}, "skip"),
    }
    assert api.post(step, {"output": good_output(first)}).body["accepted"] is True
    replies["STEP_ALREADY_DONE"] = both(step, {"output": "x"})
    _skip_to_the_end(api, sid)
    replies["SESSION_CLOSED"] = both(step, {"output": "x"})
    # THEN every error, on both route families, is worded wholly in English
    for code, pair in replies.items():
        for reply in pair:
            assert reply.code == code, reply.body
            assert not CJK.search(reply.body["error"]), (code, reply.body["error"])
    assert replies["STEP_NOT_FOUND"][0].body["error"] == "no step nope"
    assert replies["MISSING_REQUIRED_FIELD"][1].body["error"] == "missing required field: output"


def test_a_language_neither_chinese_nor_english_gives_way_to_the_next_one_asked(api: Api) -> None:
    # GIVEN a request whose config.language is one taskchain does not speak, and an English header
    body = {"task_type": "analysis", "target": 42, "config": {"language": "fr"}}
    reply = api.post("/v1/sessions", body, headers={"Accept-Language": "en"})
    # THEN its errors are in the language it does ask for that taskchain speaks
    assert_error(reply, 400, "INVALID_FIELD")
    assert not re.search(r"[\u4e00-\u9fff]", reply.body["error"]), reply.body["error"]


def test_the_language_a_request_asks_for_outranks_its_sessions(api: Api) -> None:
    # GIVEN an English session and a Chinese one
    english = api.start(ENGLISH)["session_id"]
    chinese = api.start()["session_id"]
    unknown_step = f"/v1/sessions/{english}/steps/nope"
    # WHEN a request asks for no language, then for Chinese (header or query)
    unasked = api.post(unknown_step, {"output": "x"})
    by_header = api.post(unknown_step, {"output": "x"}, headers={"Accept-Language": "zh-CN"})
    by_query = api.post(unknown_step, {"output": "x"}, query={"language": "zh"})
    # THEN the session's language is the default, and what was asked for wins over it
    assert unasked.body["error"] == "no step nope"
    assert by_header.body["error"] == by_query.body["error"] == "没有步骤 nope"
    asked_en = api.post(
        f"/v1/sessions/{chinese}/steps/nope", {"output": "x"}, headers={"Accept-Language": "en"}
    )
    assert asked_en.body["error"] == "no step nope"
    assert api.post(f"/v1/sessions/{chinese}/steps/nope", {"output": "x"}).body["error"] == (
        "没有步骤 nope"
    )


def test_another_end_users_session_does_not_lend_its_language(api: Api) -> None:
    # GIVEN a Coze user's English session
    started = api.post("/coze/sessions/start", ENGLISH, headers=coze_headers("u1"))
    sid, step_id = started.body["session_id"], started.body["ready_steps"][0]["step_id"]
    body = {"session_id": sid, "step_id": step_id, "output": ""}
    # WHEN its owner, then another user of the same bot, sends an invalid submit for it
    own = api.post("/coze/sessions/submit", body, headers=coze_headers("u1"))
    other = api.post("/coze/sessions/submit", body, headers=coze_headers("u2"))
    # THEN the owner is answered in the session's language; the other user learns nothing of it
    assert own.body["error"] == "missing required field: output"
    assert other.body["error"] == "缺少必需字段：output"


# --- the store fails, the code fails ----------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "header"), [(None, "1"), (2, "2"), (0.2, "1")])
def test_store_unavailable_is_503_with_retry_after(retry_after: float | None, header: str) -> None:
    api = build(Service(DownStore(retry_after)))
    for reply in (api.post("/v1/sessions", ANALYSIS), api.get("/v1/sessions/abc")):
        assert_error(reply, 503, "STORE_UNAVAILABLE")
        assert reply.headers["retry-after"] == header
    coze = api.post("/coze/sessions/status", {"session_id": "abc"})
    assert (coze.status, coze.code, coze.headers["retry-after"]) == (
        200,
        "STORE_UNAVAILABLE",
        header,
    )


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the Powertools logger writes during the test (its stream was bound at import)."""
    handler = telemetry.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_unexpected_errors_are_500_and_leak_nothing(logs: io.StringIO) -> None:
    class Broken(Service):
        def status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError("secret internals at /var/task/x.py")

    api = build(Broken(MemoryStore()))
    reply = api.get("/v1/sessions/abc")
    assert_error(reply, 500, "INTERNAL_ERROR")
    assert "secret" not in json.dumps(reply.body)
    assert "Traceback" in logs.getvalue()  # the stack trace is in the logs only
    assert "secret internals" in logs.getvalue()


def test_an_answer_that_breaks_its_model_is_a_500_not_the_callers_fault(logs: io.StringIO) -> None:
    class Broken(Service):
        def status(self, *args: Any, **kwargs: Any) -> Any:
            return {"not": "a session view"}

    reply = build(Broken(MemoryStore())).get("/v1/sessions/abc")
    assert_error(reply, 500, "INTERNAL_ERROR")


def test_logs_carry_correlation_id_and_tenant_never_the_token(logs: io.StringIO) -> None:
    api = build(Service(DownStore()))
    event = http_event(
        "GET",
        "/v1/sessions/s-123",
        headers={"authorization": f"Bearer {TOKENS['acme']}"},
        request_id="req-42",
    )
    api.send(event)
    out = logs.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    warning = next(line for line in lines if line["level"] == "WARNING")
    assert (warning["correlation_id"], warning["tenant"], warning["session_id"]) == (
        "req-42",
        "acme",
        "s-123",
    )
    assert TOKENS["acme"] not in out
    assert "authorization" not in out.lower()


def test_metrics_are_emf_with_error_codes_on_their_own_metric(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    session = api.start()
    capsys.readouterr()
    api.post(
        f"/v1/sessions/{session['session_id']}/steps/understand_goal",
        {"output": "x", "expected_version": 9},
    )
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    errors = next(b for b in blobs if "Errors" in b)
    assert errors["error_code"] == "STALE_VERSION"
    assert errors["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Taskchain"
    others = [b for b in blobs if "Errors" not in b]
    assert others
    assert all("error_code" not in b for b in others)


# --- Coze ---------------------------------------------------------------------------------------


def coze_headers(uid: str) -> dict[str, str]:
    return {"X-AIPlugin-UID": uid, "X-AIPlugin-Bot-ID": "7400000000000000001"}


def test_coze_guided_flow_answers_200_and_business_errors_as_bodies(api: Api) -> None:
    started = api.post("/coze/sessions/start", ANALYSIS, headers=coze_headers("u1"))
    assert started.status == 200
    assert started.body["success"] is True
    sid = started.body["session_id"]
    guidance = started.body["ready_steps"][0]
    submit = {"session_id": sid, "step_id": guidance["step_id"]}
    rejected = api.post("/coze/sessions/submit", {**submit, "output": bad_output()})
    assert (rejected.status, rejected.body["accepted"]) == (200, False)
    accepted = api.post("/coze/sessions/submit", {**submit, "output": good_output(guidance)})
    assert accepted.body["accepted"] is True
    again = api.post("/coze/sessions/submit", {**submit, "output": good_output(guidance)})
    assert (again.status, again.body["success"], again.code) == (200, False, "STEP_ALREADY_DONE")
    assert again.body["error"]
    status = api.post("/coze/sessions/status", {"session_id": sid}).body
    assert status["progress"]["completed"] == 1
    report = api.post("/coze/sessions/report", {"session_id": sid}).body
    assert report["partial"] is True
    assert report["markdown"]
    skip = api.post(
        "/coze/sessions/skip",
        {"session_id": sid, "step_id": "gather_information", "reason": "已有资料"},
    )
    assert skip.body["progress"]["skipped"] == 1


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/coze/sessions/start", {"task_type": "analysis"}, "MISSING_REQUIRED_FIELD"),
        ("/coze/sessions/start", "{oops", "INVALID_JSON"),
        ("/coze/run", {"task_type": "astrology", "target": "x"}, "INVALID_TASK_TYPE"),
        ("/coze/sessions/status", {}, "MISSING_REQUIRED_FIELD"),
        ("/coze/sessions/status", {"session_id": "nope"}, "SESSION_NOT_FOUND"),
        ("/coze/sessions/report", {"session_id": "nope", "format": "pdf"}, "INVALID_FIELD"),
    ],
)
def test_coze_errors_are_200_with_success_false(api: Api, path: str, body: Any, code: str) -> None:
    reply = api.post(path, body)
    assert (reply.status, reply.body["success"], reply.code) == (200, False, code)
    assert reply.body["error"]


def test_coze_auth_and_routing_failures_keep_their_status(api: Api) -> None:
    assert_error(api.post("/coze/sessions/start", ANALYSIS, tenant=None), 401, "UNAUTHORIZED")
    assert_error(api.post("/coze/nothing", {}), 404, "ROUTE_NOT_FOUND")


def test_coze_run_and_templates(api: Api) -> None:
    run = api.post("/coze/run", ANALYSIS)
    assert run.status == 200
    assert run.body["success"] is True
    templates = api.get("/coze/templates", query={"search": "analysis"}).body
    assert [t["key"] for t in templates["templates"]] == ["analysis"]


def test_coze_caller_header_becomes_the_end_user_for_listing(api: Api) -> None:
    mine = api.post("/coze/sessions/start", ANALYSIS, headers=coze_headers("u1")).body
    api.post("/coze/sessions/start", ANALYSIS, headers={"x-aiplugin-openid": "u2"})
    api.post("/coze/run", ANALYSIS, headers=coze_headers("u1"))
    api.start()  # no caller header
    by_user = api.get("/v1/sessions", query={"user": "u1"}).body["sessions"]
    assert len(by_user) == 2
    assert {s["end_user"] for s in by_user} == {"u1"}
    assert mine["session_id"] in {s["session_id"] for s in by_user}
    coze_list = api.post("/coze/sessions/list", {}, headers=coze_headers("u2")).body
    assert [s["end_user"] for s in coze_list["sessions"]] == ["u2"]
    assert len(api.get("/v1/sessions").body["sessions"]) == 4


def coze_session_calls(api: Api, sid: str, headers: Mapping[str, str]) -> list[Reply]:
    """Every Coze route about one session, called with ``headers``."""
    step = {"session_id": sid, "step_id": "understand_goal"}
    return [
        api.post("/coze/sessions/status", {"session_id": sid}, headers=headers),
        api.post("/coze/sessions/report", {"session_id": sid}, headers=headers),
        api.post("/coze/sessions/submit", {**step, "output": "x"}, headers=headers),
        api.post("/coze/sessions/skip", {**step, "reason": "x"}, headers=headers),
    ]


def rest_session_calls(api: Api, sid: str, headers: Mapping[str, str]) -> list[Reply]:
    """Every REST route about one session, called with ``headers`` (delete last)."""
    return [
        api.get(f"/v1/sessions/{sid}", headers=headers),
        api.get(f"/v1/sessions/{sid}/report", headers=headers),
        api.post(f"/v1/sessions/{sid}/steps/understand_goal", {"output": "x"}, headers=headers),
        api.post(f"/v1/sessions/{sid}/steps/understand_goal/skip", {}, headers=headers),
        api.call("DELETE", f"/v1/sessions/{sid}", headers=headers),
    ]


def test_a_malformed_id_is_an_invalid_field_on_coze_as_on_rest(api: Api) -> None:
    # GIVEN ids no session, step or run can have
    assert_error(api.get("/v1/sessions/bad*id"), 400, "INVALID_FIELD")
    sid = api.post("/coze/sessions/start", ANALYSIS, headers=coze_headers("u1")).body["session_id"]
    for tool, body, field in (
        ("/coze/sessions/status", {"session_id": "bad*id"}, "session_id"),
        (
            "/coze/sessions/submit",
            {"session_id": sid, "step_id": "x/../y", "output": "x"},
            "step_id",
        ),
        ("/coze/runs/status", {"run_id": "a b"}, "run_id"),
    ):
        # WHEN a Coze tool is given one, THEN it is the same INVALID_FIELD naming the field
        reply = api.post(tool, body, headers=coze_headers("u1"))
        assert (reply.status, reply.code, reply.body["details"]["field"]) == (
            200,
            "INVALID_FIELD",
            field,
        )


def test_another_coze_users_session_is_not_found_like_an_unknown_one(api: Api) -> None:
    # GIVEN a session Coze user u1 started
    sid = api.post("/coze/sessions/start", ANALYSIS, headers=coze_headers("u1")).body["session_id"]
    # WHEN u2, same tenant, uses its id on every Coze session route
    foreign = coze_session_calls(api, sid, coze_headers("u2"))
    # THEN each answers 200 with SESSION_NOT_FOUND, and u1's session is untouched
    for reply in foreign:
        assert (reply.status, reply.body["success"], reply.code) == (
            200,
            False,
            "SESSION_NOT_FOUND",
        )
    mine = api.post("/coze/sessions/status", {"session_id": sid}, headers=coze_headers("u1"))
    assert (mine.body["success"], mine.body["version"]) == (True, 1)
    assert api.post("/coze/sessions/list", {}, headers=coze_headers("u2")).body["sessions"] == []
    # AND exactly what an unknown id gets
    api.call("DELETE", f"/v1/sessions/{sid}")
    assert [r.body for r in coze_session_calls(api, sid, coze_headers("u2"))] == [
        r.body for r in foreign
    ]


def test_another_end_users_session_is_404_on_rest_like_an_unknown_one(api: Api) -> None:
    sid = api.start(headers=coze_headers("u1"))["session_id"]
    # WHEN a REST caller carrying another end user's header uses its id
    foreign = rest_session_calls(api, sid, {"x-aiplugin-openid": "u2"})
    # THEN every route answers 404, exactly like an unknown id, and the session is untouched
    for reply in foreign:
        assert_error(reply, 404, "SESSION_NOT_FOUND")
    assert api.get(f"/v1/sessions/{sid}", headers=coze_headers("u1")).body["version"] == 1
    api.call("DELETE", f"/v1/sessions/{sid}")
    unknown = rest_session_calls(api, sid, {"x-aiplugin-openid": "u2"})
    assert [r.body for r in unknown] == [r.body for r in foreign]


def test_rest_callers_without_an_end_user_header_keep_tenant_wide_access(api: Api) -> None:
    sid = api.start(headers=coze_headers("u1"))["session_id"]
    replies = rest_session_calls(api, sid, {})
    assert [r.status for r in replies] == [200] * 5
    assert replies[-1].body["deleted"] is True


def test_a_rest_caller_with_an_end_user_header_lists_only_their_own_sessions(api: Api) -> None:
    # GIVEN sessions of two end users and one without an owner
    api.start(headers=coze_headers("u1"))
    api.start(headers=coze_headers("u2"))
    api.start()
    # WHEN u1 lists, with no filter or with u2 as the filter
    mine = api.get("/v1/sessions", headers=coze_headers("u1")).body["sessions"]
    theirs = api.get("/v1/sessions", headers=coze_headers("u1"), query={"user": "u2"}).body
    # THEN u1 sees only u1's session, never u2's
    assert [s["end_user"] for s in mine] == ["u1"]
    assert theirs["sessions"] == []


def test_coze_listing_without_a_caller_identity_lists_nothing(api: Api) -> None:
    # GIVEN sessions of two Coze users and one started without a caller header
    api.post("/coze/sessions/start", ANALYSIS, headers=coze_headers("u1"))
    api.post("/coze/sessions/start", ANALYSIS, headers=coze_headers("u2"))
    api.start()
    # WHEN /coze/sessions/list is called without any caller header THEN it lists nothing
    reply = api.post("/coze/sessions/list", {})
    assert reply.status == 200
    assert reply.body == {"success": True, "sessions": [], "next_cursor": None}
    # AND the REST listing without a user filter still lists the tenant
    assert len(api.get("/v1/sessions").body["sessions"]) == 3


@pytest.mark.parametrize("limit", [0, 101, "lots"])
def test_listings_refuse_a_page_size_out_of_range_with_or_without_an_identity(
    api: Api, limit: object
) -> None:
    # The page size is checked before anything is listed, even where nothing would be.
    for headers in ({}, coze_headers("u1")):
        reply = api.post("/coze/sessions/list", {"limit": limit}, headers=headers)
        assert_error(reply, 200, "INVALID_FIELD")
        assert reply.body["details"]["field"] == "limit"
    assert_error(api.get("/v1/sessions", query={"limit": str(limit)}), 400, "INVALID_FIELD")


# --- idempotency ------------------------------------------------------------------------------


def count_sessions(api: Api, tenant: str = "acme") -> int:
    return len(api.get("/v1/sessions", tenant=tenant, query={"limit": "100"}).body["sessions"])


def test_a_retry_with_the_same_key_replays_without_acting_twice(api: Api) -> None:
    key = {"Idempotency-Key": "retry-0001"}
    first = api.post("/v1/sessions", ANALYSIS, headers=key)
    again = api.post("/v1/sessions", ANALYSIS, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert again.text == first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count_sessions(api) == 1
    # a submit replays its verdict too, and the session moves once
    path = f"/v1/sessions/{first.body['session_id']}/steps/understand_goal"
    good = {"output": good_output(first.body["ready_steps"][0]), "expected_version": 1}
    submitted = [api.post(path, good, headers={"Idempotency-Key": "submit-1"}) for _ in range(2)]
    assert submitted[0].body == submitted[1].body
    assert submitted[1].body["accepted"] is True
    assert api.get(f"/v1/sessions/{first.body['session_id']}").body["version"] == 2


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    key = {"Idempotency-Key": "reuse-0001"}
    api.post("/v1/sessions", ANALYSIS, headers=key)
    reply = api.post("/v1/sessions", {**ANALYSIS, "target": "另一个目标"}, headers=key)
    assert_error(reply, 422, "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotency-Key" in reply.body["error"]
    assert count_sessions(api) == 1


def test_keys_are_scoped_by_tenant_and_route(api: Api) -> None:
    key = {"Idempotency-Key": "shared-key"}
    acme = api.post("/v1/sessions", ANALYSIS, headers=key)
    globex = api.post("/v1/sessions", ANALYSIS, headers=key, tenant="globex")
    run = api.post("/v1/run", ANALYSIS, headers=key)
    assert (acme.status, globex.status, run.status) == (201, 201, 200)
    assert acme.body["session_id"] != globex.body["session_id"]
    assert "idempotent-replayed" not in globex.headers | run.headers
    assert count_sessions(api, "globex") == 1


def test_a_request_still_in_progress_is_409() -> None:
    class Killed(BaseException):
        """What Lambda's timeout does to an invocation: no exception handler runs."""

    class DyingOnce(Service):
        dead = False

        def start(self, payload: Any, **kw: Any) -> dict[str, Any]:
            if not self.dead:
                self.dead = True
                raise Killed
            return super().start(payload, **kw)

    api = build(DyingOnce(MemoryStore()))
    key = {"Idempotency-Key": "slow-0001"}
    with pytest.raises(Killed):
        api.post("/v1/sessions", ANALYSIS, headers=key)
    assert_error(api.post("/v1/sessions", ANALYSIS, headers=key), 409, "IDEMPOTENCY_IN_PROGRESS")
    assert api.post("/v1/sessions", ANALYSIS, headers={"Idempotency-Key": "other"}).status == 201


def test_failed_requests_are_not_remembered() -> None:
    class FlakyStore(MemoryStore):
        failures = 1

        def create(self, session: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise StoreError("暂时不可用", "briefly unavailable")
            super().create(session)

    api = build(Service(FlakyStore()))
    key = {"Idempotency-Key": "flaky-0001"}
    assert_error(api.post("/v1/sessions", ANALYSIS, headers=key), 503, "STORE_UNAVAILABLE")
    assert api.post("/v1/sessions", ANALYSIS, headers=key).status == 201


def test_idempotency_records_survive_across_handlers_sharing_a_store(tmp_path: Path) -> None:
    # What two Lambda instances sharing the idempotency table see.
    store = MemoryStore()
    layer = SqlitePersistenceLayer(tmp_path / "idempotency.db")
    one, two = (build(Service(store), idempotency=Idempotency(lambda: layer)) for _ in range(2))
    key = {"Idempotency-Key": "shared-0001"}
    assert (
        one.post("/v1/sessions", ANALYSIS, headers=key).body
        == two.post("/v1/sessions", ANALYSIS, headers=key).body
    )
    assert count_sessions(one) == 1


def test_keys_on_public_or_unknown_routes_change_nothing(api: Api) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert_error(api.post("/health", {}, tenant=None, headers=key), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.post("/v1/nothing", {}, headers=key), 404, "ROUTE_NOT_FOUND")


def test_malformed_idempotency_keys_are_refused(api: Api) -> None:
    reply = api.post("/v1/sessions", ANALYSIS, headers={"Idempotency-Key": "spaces are bad"})
    assert_error(reply, 400, "INVALID_FIELD")


# --- direct invocation ------------------------------------------------------------------------


def test_direct_invocation_keeps_the_original_callers_working() -> None:
    service = Service(MemoryStore())
    handler = make_handler(ENV, service=service)
    as_dict = handler(ANALYSIS, LocalContext())
    as_text = handler(json.dumps(ANALYSIS, ensure_ascii=False), LocalContext())
    assert as_dict["success"] is True
    assert as_text["success"] is True
    assert service.store.get("direct", as_dict["session_id"]) is not None
    assert handler("{not json", LocalContext())["error_code"] == "INVALID_JSON"
    assert handler({"target": "x"}, LocalContext())["error_code"] == "MISSING_REQUIRED_FIELD"
    assert handler(["not", "a", "request"], LocalContext())["success"] is False


# --- cold start -------------------------------------------------------------------------------


def cold_import(env: Mapping[str, str], code: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TASKCHAIN_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cold_start_with_a_local_store_imports_no_boto3() -> None:
    result = cold_import(
        {"TASKCHAIN_STORE": "memory", "TASKCHAIN_ALLOW_ANONYMOUS": "true"},
        "import sys, handlers.aws_lambda\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 's3transfer')"
        " or m.startswith(('botocore.', 'aws_lambda_powertools.utilities.idempotency'))))",
    )
    assert result.returncode == 0, result.stderr
    # Powertools' own __init__ imports the bare botocore package (for its user agent), nothing more.
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_cold_start_with_invalid_configuration_fails_naming_the_variable() -> None:
    result = cold_import(
        {
            "TASKCHAIN_STORE": "memory",
            "TASKCHAIN_SESSION_TTL_HOURS": "soon",
            "TASKCHAIN_ALLOW_ANONYMOUS": "true",
        },
        "import handlers.aws_lambda",
    )
    assert result.returncode != 0
    assert "ConfigError" in result.stderr
    assert "TASKCHAIN_SESSION_TTL_HOURS" in result.stderr


def test_the_handler_is_built_once_per_process() -> None:
    result = cold_import(
        {"TASKCHAIN_STORE": "memory", "TASKCHAIN_ALLOW_ANONYMOUS": "true"},
        "import taskchain.http.app as app\n"
        "calls = []\n"
        "original = app.build_resolver\n"
        "app.build_resolver = lambda *a, **k: calls.append(1) or original(*a, **k)\n"
        "from handlers.aws_lambda import handler\n"
        "from taskchain.http.events import http_event, LocalContext\n"
        "for _ in range(3): handler(http_event('GET', '/health'), LocalContext())\n"
        "print(len(calls))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1"


# --- the local server ---------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[str]:
    with make_server("127.0.0.1", 0, handler=make_handler(ENV)) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        try:
            yield srv.url
        finally:
            srv.shutdown()
            thread.join(timeout=10)


def fetch(
    url: str, method: str = "GET", body: Any = None, token: str | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def test_local_server_round_trip_over_real_http(server: str) -> None:
    assert fetch(f"{server}/health")[0] == 200
    status, _, started = fetch(f"{server}/v1/sessions", "POST", ANALYSIS, TOKENS["acme"])
    assert status == 201
    status, _, session = fetch(
        f"{server}/v1/sessions/{started['session_id']}?x=1", token=TOKENS["acme"]
    )
    assert (status, session["version"]) == (200, 1)
    status, headers, body = fetch(f"{server}/v1/sessions", "POST", ANALYSIS)
    assert (status, body["error_code"]) == (401, "UNAUTHORIZED")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, headers, _ = fetch(f"{server}/v1/sessions", "PUT", ANALYSIS, TOKENS["acme"])
    assert (status, headers["Allow"]) == (405, "GET, POST")
    assert fetch(f"{server}/nope", token=TOKENS["acme"])[0] == 404


def test_local_server_serialises_concurrent_requests(server: str) -> None:
    results: list[int] = []

    def start() -> None:
        results.append(fetch(f"{server}/v1/sessions", "POST", ANALYSIS, TOKENS["acme"])[0])

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [201] * 8
    _, _, listed = fetch(f"{server}/v1/sessions?limit=100", token=TOKENS["acme"])
    assert len(listed["sessions"]) == 8
