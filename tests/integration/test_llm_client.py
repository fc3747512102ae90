"""The chat client against a real OpenAI-compatible server on 127.0.0.1 (tests/support/fake_openai.py):
what it sends, what it retries, what it refuses, the deadline, and the key kept out of sight."""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from taskchain.config import ConfigError
from taskchain.llm import client as client_module
from taskchain.llm.client import ChatClient, Completion, ModelError, key_from_parameter
from taskchain.llm.settings import LlmSettings
from tests.support.fake_openai import (
    Behaviour,
    FakeOpenAI,
    RecordedRequest,
    answer,
    empty_content,
    error,
    hang,
    malformed,
    missing_choices,
    rate_limited,
)

KEY = "sk-live-9c2e71f04ab35d86"
PROMPT = "请分析是否开设第二家门店（机密提示词）"
MESSAGES = [{"role": "system", "content": "你是分析师"}, {"role": "user", "content": PROMPT}]


class Sleeps:
    """A sleep that records its waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settings_for(server: FakeOpenAI, **changes: Any) -> LlmSettings:
    base = LlmSettings(provider="custom", base_url=server.base_url, model="fake-7b", api_key=KEY)
    return dataclasses.replace(base, **changes)


def client_for(server: FakeOpenAI, sleeps: Sleeps | None = None, **changes: Any) -> ChatClient:
    return ChatClient(settings_for(server, **changes), sleep=sleeps or Sleeps(), jitter=lambda: 1.0)


def soon(seconds: float = 30.0) -> float:
    return time.monotonic() + seconds


def failure(client: ChatClient, deadline: float | None = None) -> ModelError:
    with pytest.raises(ModelError) as caught:
        client.complete(MESSAGES, deadline=soon() if deadline is None else deadline)
    return caught.value


# --- what is sent and what comes back -------------------------------------------------------------


def test_the_request_carries_the_model_the_messages_and_the_bearer_key(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script(answer("## 结论\n可以开", prompt_tokens=31, completion_tokens=7))
    got = client_for(fake_openai).complete(MESSAGES, deadline=soon())
    assert got == Completion("## 结论\n可以开", "fake-7b", 31, 7, latency=got.latency, calls=1)
    (request,) = fake_openai.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("taskchain/")
    assert request.body == {"model": "fake-7b", "messages": MESSAGES, "stream": False}


def test_temperature_and_max_tokens_are_sent_when_set(fake_openai: FakeOpenAI) -> None:
    client_for(fake_openai, temperature=0.0, max_tokens=512).complete(MESSAGES, deadline=soon())
    body = fake_openai.requests[0].body
    assert (body["temperature"], body["max_tokens"]) == (0.0, 512)


def test_the_model_named_by_the_response_wins_and_missing_usage_is_none(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script(answer("好", model="fake-7b-0613"))
    got = client_for(fake_openai).complete(MESSAGES, deadline=soon())
    assert (got.model, got.prompt_tokens, got.completion_tokens) == ("fake-7b-0613", None, None)


# --- retries ------------------------------------------------------------------------------------


def test_a_429_is_retried_after_the_seconds_retry_after_names(fake_openai: FakeOpenAI) -> None:
    sleeps = Sleeps()
    fake_openai.script(rate_limited(retry_after=2), answer("第二次成功"))
    got = client_for(fake_openai, sleeps).complete(MESSAGES, deadline=soon())
    assert (got.text, got.calls, sleeps.waits) == ("第二次成功", 2, [2.0])
    assert len(fake_openai.requests) == 2


def test_a_retry_after_date_is_read_against_the_wall_clock(fake_openai: FakeOpenAI) -> None:
    sleeps, now = Sleeps(), 1_900_000_000.0
    fake_openai.script(rate_limited(email.utils.formatdate(now + 20, usegmt=True)))
    client = ChatClient(settings_for(fake_openai), sleep=sleeps, wall_clock=lambda: now)
    assert client.complete(MESSAGES, deadline=soon(60)).calls == 2
    assert sleeps.waits == [pytest.approx(20.0, abs=1.0)]


def test_server_errors_are_retried_with_capped_exponential_backoff(fake_openai: FakeOpenAI) -> None:
    sleeps = Sleeps()
    fake_openai.script(error(500), error(503), error(502), answer("终于"))
    client = client_for(fake_openai, sleeps, backoff_base=0.5, backoff_max=1.5)
    assert client.complete(MESSAGES, deadline=soon()).calls == 4
    assert sleeps.waits == [0.5, 1.0, 1.5]  # jitter() is 1.0: the full cap each time


def test_backoff_is_scaled_by_jitter(fake_openai: FakeOpenAI) -> None:
    sleeps = Sleeps()
    fake_openai.script(error(500), error(500))
    client = ChatClient(settings_for(fake_openai), sleep=sleeps, jitter=lambda: 0.25)
    client.complete(MESSAGES, deadline=soon())
    assert sleeps.waits == [0.125, 0.25]


@pytest.mark.parametrize(
    ("behaviour", "kind"), [(error(500), "server"), (rate_limited(), "rate_limited")]
)
def test_retries_stop_at_max_retries_with_the_last_kind(
    fake_openai: FakeOpenAI, behaviour: Behaviour, kind: str
) -> None:
    fake_openai.default = behaviour
    got = failure(client_for(fake_openai, max_retries=2))
    assert (got.kind, got.calls, len(fake_openai.requests)) == (kind, 3, 3)


def test_a_hung_answer_is_cut_by_the_read_timeout_and_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(hang(10), answer("第二次及时"))
    began = time.monotonic()
    got = client_for(fake_openai, read_timeout=0.3).complete(MESSAGES, deadline=soon())
    assert (got.text, got.calls) == ("第二次及时", 2)
    assert time.monotonic() - began < 5  # not the 10 s hang


def test_a_service_that_always_hangs_ends_in_a_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = hang(10)
    got = failure(client_for(fake_openai, read_timeout=0.3, max_retries=1))
    assert (got.kind, got.calls, len(fake_openai.requests)) == ("timeout", 2, 2)
    assert got.message("zh") == "模型服务在 0.3 秒内没有回答（共请求 2 次）"


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = LlmSettings("custom", f"http://127.0.0.1:{port}/v1", "m", api_key=KEY, max_retries=2)
    sleeps = Sleeps()
    with pytest.raises(ModelError) as caught:
        ChatClient(settings, sleep=sleeps).complete(MESSAGES, deadline=soon())
    assert (caught.value.kind, caught.value.calls, len(sleeps.waits)) == ("connection", 3, 2)
    assert "连接被拒绝" in caught.value.message("zh")


def test_https_goes_through_tls_with_certificate_checks(fake_openai: FakeOpenAI) -> None:
    # The fake speaks plain HTTP: a client that really starts TLS cannot complete the handshake.
    url = fake_openai.base_url.replace("http://", "https://")
    settings = LlmSettings("custom", url, "m", api_key=KEY, max_retries=0)
    with pytest.raises(ModelError) as caught:
        ChatClient(settings).complete(MESSAGES, deadline=soon())
    assert (caught.value.kind, caught.value.detail) == ("connection", "tls")
    assert fake_openai.requests == []  # no request line ever reached the server


# --- no retry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(fake_openai: FakeOpenAI, status: int) -> None:
    fake_openai.default = error(status, "bad request")
    got = failure(client_for(fake_openai))
    assert (got.kind, got.status, got.calls, len(fake_openai.requests)) == ("client", status, 1, 1)
    assert f"HTTP {status}" in got.message("zh")


def test_a_refused_key_is_named_as_such_and_never_echoed(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = error(401, f"Incorrect API key provided: {KEY}")
    got = failure(client_for(fake_openai))
    assert "API 密钥" in got.message("zh")
    assert "TASKCHAIN_LLM_API_KEY" in got.message("en")
    for text in (got.message("zh"), got.message("en"), str(got), repr(got)):
        assert KEY not in text
        assert "Incorrect" not in text  # the provider's words are dropped for 401/403


def test_a_provider_message_is_shown_short_and_without_the_key(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = error(400, f"model not supported for key {KEY}\n" + "x" * 5000)
    got = failure(client_for(fake_openai))
    assert "model not supported for key ***" in got.message("en")
    assert KEY not in got.message("zh") + got.message("en")
    assert len(got.message("en")) < 400


@pytest.mark.parametrize(
    ("behaviour", "kind", "reason_zh"),
    [
        (malformed(), "malformed", "不是 JSON"),
        (missing_choices(), "malformed", "缺少 choices[0].message.content"),
        (Behaviour(body=b'{"choices": [{"message": {"content": 42}}]}'), "malformed", "不是文本"),
        (empty_content(), "empty", "空白内容"),
        (empty_content(None), "empty", "空白内容"),
    ],
)
def test_unusable_answers_fail_with_their_reason_and_no_retry(
    fake_openai: FakeOpenAI, behaviour: Behaviour, kind: str, reason_zh: str
) -> None:
    fake_openai.default = behaviour
    got = failure(client_for(fake_openai))
    assert (got.kind, got.status, got.calls, len(fake_openai.requests)) == (kind, 200, 1, 1)
    assert reason_zh in got.message("zh")


def test_a_body_over_the_cap_is_malformed(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_BODY", 1000)
    fake_openai.default = answer("长" * 2000)
    got = failure(client_for(fake_openai))
    assert (got.kind, got.detail) == ("malformed", "too_big")
    assert "超过" in got.message("zh")


# --- the deadline ---------------------------------------------------------------------------------


def test_a_passed_deadline_sends_nothing(fake_openai: FakeOpenAI) -> None:
    got = failure(client_for(fake_openai), deadline=time.monotonic() - 1)
    assert (got.kind, got.calls, fake_openai.requests) == ("deadline", 0, [])


def test_the_deadline_cuts_a_hung_read_short(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = hang(10)
    deadline = soon(0.5)
    got = failure(client_for(fake_openai, read_timeout=5), deadline=deadline)
    assert got.kind == "deadline"
    assert time.monotonic() - deadline < 1.5  # the 5 s read timeout was cut to the deadline
    assert "截止时间已到" in got.message("zh")


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(fake_openai: FakeOpenAI) -> None:
    sleeps = Sleeps()
    fake_openai.default = rate_limited(retry_after=60)
    got = failure(client_for(fake_openai, sleeps), deadline=soon(10))
    assert (got.kind, got.calls, sleeps.waits) == ("deadline", 1, [])
    assert got.last is not None
    assert got.last.kind == "rate_limited"
    assert "限流" in got.message("zh")


def test_no_request_starts_after_the_deadline(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = error(503)
    deadline = soon(1.0)
    client = ChatClient(
        settings_for(fake_openai, max_retries=10, backoff_base=0.2, backoff_max=0.4)
    )  # real sleeps
    got = failure(client, deadline=deadline)
    assert got.kind == "deadline"
    assert fake_openai.requests
    assert all(r.arrived < deadline for r in fake_openai.requests)
    assert time.monotonic() < deadline + 1.0


# --- the key out of sight, threads ----------------------------------------------------------------


def test_the_key_and_the_prompt_appear_in_no_log_record(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskchain")
    fake_openai.script(error(500, f"echo {KEY}"), answer("好"), error(401, f"bad key {KEY}"))
    client = client_for(fake_openai)
    client.complete(MESSAGES, deadline=soon())
    failure(client)
    assert len(caplog.records) == 3  # one per HTTP request
    assert caplog.records[0].llm_status == 500  # type: ignore[attr-defined]
    assert caplog.records[1].llm_attempt == 2  # type: ignore[attr-defined]
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        assert "fake-7b" in text
        assert KEY not in text
        assert PROMPT not in text


def test_a_key_source_is_read_once_lazily_even_from_many_threads(fake_openai: FakeOpenAI) -> None:
    reads: list[int] = []

    def source() -> str:
        reads.append(1)
        time.sleep(0.05)  # widen the window for a second read
        return f"  {KEY}\n"

    fake_openai.responder = echo
    settings = settings_for(fake_openai, api_key=None)
    client = ChatClient(settings, api_key=source)
    assert reads == []
    answers = complete_in_threads(client, 8)
    assert reads == [1]
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in fake_openai.requests)
    assert answers == {f"问题 {i}": f"回答：问题 {i}" for i in range(8)}


def test_calls_from_many_threads_get_their_own_answers(fake_openai: FakeOpenAI) -> None:
    fake_openai.responder = echo
    fake_openai.latency = 0.2
    answers = complete_in_threads(client_for(fake_openai), 12)
    assert answers == {f"问题 {i}": f"回答：问题 {i}" for i in range(12)}
    arrivals = sorted(r.arrived for r in fake_openai.requests)
    assert arrivals[-1] - arrivals[0] < 0.2 * 6  # they overlapped rather than queued


def echo(request: RecordedRequest) -> Behaviour:
    return answer(f"回答：{request.body['messages'][-1]['content']}")


def complete_in_threads(client: ChatClient, count: int) -> dict[str, str]:
    answers: dict[str, str] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            question = f"问题 {i}"
            got = client.complete([{"role": "user", "content": question}], deadline=soon())
            answers[question] = got.text
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return answers


@pytest.mark.parametrize(
    "behaviour",
    [hang(10), rate_limited(), error(503, "upstream overloaded"), empty_content()],
    ids=["timeout", "rate_limited", "server", "empty"],
)
def test_chinese_reasons_are_wholly_chinese(fake_openai: FakeOpenAI, behaviour: Behaviour) -> None:
    fake_openai.default = behaviour
    got = failure(client_for(fake_openai, read_timeout=0.3, max_retries=1))
    assert re.findall(r"[A-Za-z_]{3,}", got.message("zh")) in ([], ["HTTP"]), got.message("zh")
    assert re.search(r"[\u4e00-\u9fff]", got.message("en")) is None


# --- the key from SSM -----------------------------------------------------------------------------


@pytest.fixture
def ssm(aws_env: None) -> Iterator[Any]:
    """moto's SSM, with Powertools' parameter caches cleared around it."""
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    parameters.clear_caches()
    try:
        with mock_aws():
            yield boto3.client("ssm", region_name="us-east-1")
    finally:
        parameters.clear_caches()


def test_the_key_comes_from_a_secure_string_parameter(fake_openai: FakeOpenAI, ssm: Any) -> None:
    ssm.put_parameter(Name="/tc/llm-key", Value=KEY, Type="SecureString")
    settings = settings_for(fake_openai, api_key=None, api_key_parameter="/tc/llm-key")
    ChatClient(settings).complete(MESSAGES, deadline=soon())
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_missing_parameter_fails_naming_the_variable(ssm: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        key_from_parameter("/tc/missing")()
    assert caught.value.variable == "TASKCHAIN_LLM_API_KEY_PARAMETER"
    assert "ParameterNotFound" in str(caught.value)
