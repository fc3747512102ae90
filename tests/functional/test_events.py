"""Every file in events/ through ``handler``, as ``sam local invoke -e events/X.json`` would feed it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from handlers import aliyun_fc
from taskchain.bootstrap import Handler, make_handler
from taskchain.capabilities import CapabilityRegistry
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
ENV = {
    "TASKCHAIN_STORE": "memory",
    "TASKCHAIN_API_TOKENS": f"acme=sha256:{token_digest('test-token-acme')},"
    f"globex=sha256:{token_digest('test-token-globex')}",
}
PLACEHOLDER = "{{session_id}}"
RUN_PLACEHOLDER = "{{run_id}}"
DIRECT = None  # direct invocations answer a dict, not an HTTP response
# The built-in capabilities: the ten standard ones first (理解分析 … 结果整合), then the template ones.
CAPABILITIES = len(CapabilityRegistry.builtin())

# name -> (HTTP status, or DIRECT; fields of the body, by dotted path, and their values)
EXPECTED: dict[str, tuple[int | None, dict[str, Any]]] = {
    "http_health": (200, {"status": "healthy", "capabilities": CAPABILITIES}),
    "http_health_deep": (200, {"status": "healthy", "checks.store": "ok"}),
    "http_openapi": (200, {"info.title": "taskchain"}),
    "http_templates": (200, {"success": True, "count": 1, "templates.0.key": "analysis"}),
    "http_templates_search": (200, {"success": True, "templates.0.key": "research"}),
    "http_capabilities": (
        200,
        {
            "success": True,
            "count": CAPABILITIES,
            "capabilities.0.name": "理解分析",
            "capabilities.9.name": "结果整合",
        },
    ),
    "http_run_analysis": (200, {"success": True, "execution_summary.total_tasks": 4}),
    "http_start_session": (201, {"success": True, "version": 1, "status": "active"}),
    "http_start_session_english": (201, {"success": True, "language": "en"}),
    "http_start_session_base64": (201, {"success": True, "task_type": "analysis"}),
    "http_start_session_idempotent": (201, {"success": True, "version": 1}),
    "http_start_session_api_key_header": (201, {"success": True}),
    "http_start_custom_chain": (201, {"progress.total": 3, "ready_steps.0.step_id": "market"}),
    "http_list_sessions": (200, {"success": True, "sessions": [], "next_cursor": None}),
    "http_list_sessions_of_user": (200, {"success": True, "sessions": []}),
    "http_get_session": (
        200,
        {
            "version": 1,
            "ready_steps.0.step_id": "understand_goal",
            "ready_steps.0.rules.0.rule": "min_length",
            "ready_steps.0.rules.2.rule": "section:core_question",
        },
    ),
    "http_submit_step_feedback": (200, {"accepted": False, "version": 2}),
    "http_submit_stale_version": (409, {"error_code": "STALE_VERSION"}),
    "http_submit_step_not_ready": (409, {"error_code": "STEP_NOT_READY"}),
    "http_submit_unknown_step": (404, {"error_code": "STEP_NOT_FOUND"}),
    "http_submit_missing_output": (400, {"error_code": "MISSING_REQUIRED_FIELD"}),
    "http_skip_step": (200, {"version": 2, "progress.skipped": 1}),
    "http_report_json": (200, {"success": True, "partial": True}),
    "http_report_markdown": (200, {"success": True, "partial": True}),
    "http_report_bad_format": (400, {"error_code": "INVALID_FIELD", "details.field": "format"}),
    "http_delete_session": (200, {"deleted": True}),
    "http_get_unknown_session": (404, {"error_code": "SESSION_NOT_FOUND"}),
    "http_get_other_tenant_session": (404, {"error_code": "SESSION_NOT_FOUND"}),
    "http_missing_token": (401, {"error_code": "UNAUTHORIZED"}),
    "http_wrong_token": (401, {"error_code": "UNAUTHORIZED"}),
    "http_malformed_json": (400, {"error_code": "INVALID_JSON"}),
    "http_missing_task_type": (400, {"error_code": "MISSING_REQUIRED_FIELD"}),
    "http_invalid_task_type": (400, {"error_code": "INVALID_TASK_TYPE"}),
    "http_invalid_custom_chain": (422, {"error_code": "INVALID_CUSTOM_CHAIN"}),
    "http_unknown_route": (404, {"error_code": "ROUTE_NOT_FOUND"}),
    "http_wrong_method": (405, {"error_code": "METHOD_NOT_ALLOWED"}),
    "http_start_run": (
        202,
        {"success": True, "status": "completed", "result.execution_summary.total_tasks": 4},
    ),
    "http_get_run": (200, {"status": "running", "progress.completed": 0, "attempts": 0}),
    "http_continue_run": (200, {"status": "completed", "result.success": True}),
    "http_get_unknown_run": (404, {"error_code": "RUN_NOT_FOUND"}),
    "coze_start_run": (200, {"success": True, "status": "completed", "executor": "builtin"}),
    "coze_get_run": (200, {"success": True, "status": "running", "current_steps.0.attempts": 0}),
    "coze_continue_run": (200, {"success": True, "status": "completed", "progress.completed": 4}),
    "coze_run": (200, {"success": True, "execution_summary.total_tasks": 4}),
    "coze_start": (200, {"success": True, "version": 1}),
    "coze_status": (200, {"success": True, "version": 1}),
    "coze_submit": (200, {"success": True, "accepted": False}),
    "coze_skip": (200, {"success": True, "progress.skipped": 1}),
    "coze_report": (200, {"success": True, "partial": True}),
    "coze_list_sessions": (200, {"success": True, "sessions": []}),
    "coze_templates": (200, {"success": True, "templates.0.key": "analysis"}),
    "coze_status_unknown_session": (200, {"success": False, "error_code": "SESSION_NOT_FOUND"}),
    "coze_submit_stale_version": (200, {"success": False, "error_code": "STALE_VERSION"}),
    "coze_start_missing_target": (200, {"success": False, "error_code": "MISSING_REQUIRED_FIELD"}),
    "coze_missing_token": (401, {"error_code": "UNAUTHORIZED"}),
    "direct_run_analysis": (DIRECT, {"success": True, "execution_summary.total_tasks": 4}),
    "direct_run_education_learning_chain": (DIRECT, {"success": True, "task_type": "education"}),
    "direct_run_analysis_string": (DIRECT, {"success": True, "task_type": "analysis"}),
    "direct_run_missing_task_type": (
        DIRECT,
        {"success": False, "error_code": "MISSING_REQUIRED_FIELD"},
    ),
}


def dig(body: Any, path: str) -> Any:
    """``body["a"]["b"][0]`` for ``"a.b.0"``."""
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def start_session(handler: Handler) -> str:
    """An analysis session of tenant acme (the one the events' ``{{session_id}}`` stands for)."""
    event = http_event(
        "POST",
        "/v1/sessions",
        headers={"authorization": "Bearer test-token-acme"},
        body={"task_type": "analysis", "target": "一家社区咖啡店是否应该推出会员订阅制"},
    )
    response = handler(event, LocalContext())
    assert response["statusCode"] == 201, response
    return str(json.loads(response["body"])["session_id"])


def start_run(handler: Handler) -> str:
    """A run of tenant acme, stored but not yet worked (its start had no time left to work it):
    the one the events' ``{{run_id}}`` stands for."""
    event = http_event(
        "POST",
        "/v1/runs",
        headers={"authorization": "Bearer test-token-acme"},
        body={"task_type": "analysis", "target": "一家社区咖啡店是否应该推出会员订阅制"},
    )
    response = handler(event, LocalContext(timeout_ms=0))
    assert response["statusCode"] == 202, response
    body = json.loads(response["body"])
    assert body["status"] == "running", body
    return str(body["run_id"])


def test_every_event_file_has_an_expectation() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EXPECTED)
    # and every one has its Aliyun FC twin (python -m tools.fc_events writes them)
    assert {p.stem for p in (EVENTS / "aliyun").glob("*.json")} == set(EXPECTED)


@dataclass
class FcContext:
    """What FC's ``context`` carries that the FC shell reads."""

    request_id: str = "1-6750a1b2-0123456789abcdef"


@pytest.mark.parametrize("shell", ["lambda", "fc"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event(name: str, shell: str) -> None:
    # GIVEN a fresh handler (memory store, the events' test tokens), and a session if needed
    handler = make_handler(ENV)
    folder = EVENTS if shell == "lambda" else EVENTS / "aliyun"
    text = (folder / f"{name}.json").read_text("utf-8")
    if PLACEHOLDER in text:
        text = text.replace(PLACEHOLDER, start_session(handler))
    if RUN_PLACEHOLDER in text:
        text = text.replace(RUN_PLACEHOLDER, start_run(handler))
    # WHEN the event is invoked as Lambda (a dict) or Function Compute (bytes) would
    if shell == "lambda":
        response = handler(json.loads(text), LocalContext())
    else:
        response = aliyun_fc.serve(handler, text.encode(), FcContext())
    status, fields = EXPECTED[name]
    # THEN the status and the key fields of the body are as promised
    if status is DIRECT:
        body = response
    else:
        assert response["statusCode"] == status, response
        raw = response["body"]
        body = json.loads(base64.b64decode(raw) if response.get("isBase64Encoded") else raw)
        if status >= 400 or body.get("success") is False:
            assert {"success", "error_code", "category", "error", "details"} == set(body)
    for path, value in fields.items():
        assert dig(body, path) == value, (path, body)
