"""A lean OpenAI-compatible chat client on ``http.client``: bounded timeouts, retries, a deadline."""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import json
import logging
import math
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from taskchain import __version__
from taskchain.config import ConfigError
from taskchain.llm.errors import ModelError, provider_message
from taskchain.llm.settings import LlmSettings

__all__ = ["ChatClient", "Completion", "ModelError", "key_from_parameter"]

_log = logging.getLogger("taskchain")

MAX_BODY = 4 * 1024 * 1024  # bytes of response body read at most; more is "malformed"
_CHUNK = 64 * 1024
_KEY = re.compile(r"[\x21-\x7e]{1,4096}")
# Failures worth another HTTP request: the same request may well succeed a moment later.
RETRYABLE = frozenset({"timeout", "rate_limited", "server", "connection"})


@dataclass(frozen=True, slots=True)
class Completion:
    """One model answer and what it cost."""

    text: str
    model: str  # the model the response names (else the requested one)
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float  # seconds for the whole call, retries and waits included
    calls: int  # HTTP requests made (1 + retries)


class ChatClient:
    """Calls ``POST {base_url}/chat/completions``; safe to use from several threads at once.

    Parameters
    ----------
    settings
        The endpoint, model, timeouts and retry budget.
    api_key
        Where the key comes from when ``settings.api_key`` is None; read once, on the first call,
        then cached. Defaults to :func:`key_from_parameter` of ``settings.api_key_parameter``.
    sleep, clock, jitter, wall_clock
        Injected for tests: the wait, the monotonic clock deadlines are measured on, a number in
        ``[0, 1)`` scaling each backoff, and the epoch clock ``Retry-After`` dates are read on.
    """

    def __init__(
        self,
        settings: LlmSettings,
        *,
        api_key: Callable[[], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(settings.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http(s):// URL with a host")
        self.settings = settings
        self._https = parts.scheme == "https"
        # An explicit port, so that http.client never reads one out of an IPv6 host's colons.
        self._host, self._port = parts.hostname, parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/") + "/chat/completions"
        self._context = ssl.create_default_context() if self._https else None
        self._sleep, self._clock, self._jitter, self._wall = sleep, clock, jitter, wall_clock
        self._lock = threading.Lock()
        self._key: str | None = None
        self._source: Callable[[], str] | None = None
        if settings.api_key:
            self._key = _checked_key(settings.api_key, "TASKCHAIN_LLM_API_KEY")
        elif api_key is not None:
            self._source = api_key
        elif settings.api_key_parameter:
            self._source = key_from_parameter(settings.api_key_parameter)
        else:
            raise ConfigError(
                "TASKCHAIN_LLM_API_KEY",
                "没有配置模型的 API 密钥",
                "no API key configured for the model",
            )

    def complete(self, messages: Sequence[Mapping[str, str]], *, deadline: float) -> Completion:
        """The model's answer to ``messages``, by ``deadline`` (an absolute time on ``clock``).

        Retries 429, 5xx, connection errors and read timeouts up to ``max_retries`` times, waiting
        ``Retry-After`` when given, else ``jitter() * min(backoff_max, backoff_base * 2**n)``; no
        wait or read goes past ``deadline``.

        Raises
        ------
        ModelError
            No usable answer; ``kind`` says why.
        ConfigError
            The key could not be read (from SSM); a misconfiguration, not a failed answer.
        """
        start = self._clock()
        key = self._api_key()
        body = self._body(messages)
        calls = 0
        error: ModelError | None = None
        while True:
            if self._clock() >= deadline:  # before any request: no time left to make one
                raise ModelError("deadline", calls=calls, last=error)
            calls += 1
            began = self._clock()
            try:
                completion = self._attempt(body, key, deadline)
            except ModelError as exc:
                exc.calls = calls
                if exc.kind == "deadline" and exc.last is None:
                    exc.last = error  # what the earlier requests met, if any
                self._log(calls, exc.status, began, exc.kind)
                error = exc
            else:
                self._log(calls, 200, began, "ok")
                return dataclasses.replace(completion, latency=self._clock() - start, calls=calls)
            if error.kind not in RETRYABLE or calls > self.settings.max_retries:
                raise error
            wait = error.retry_after
            if wait is None:
                cap = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (calls - 1))
                wait = self._jitter() * cap
            if self._clock() + wait >= deadline:  # the next request could not finish in time
                raise ModelError("deadline", calls=calls, last=error)
            self._sleep(wait)

    def _api_key(self) -> str:
        """The key: given, or read once from its source (a thread at a time)."""
        if self._key is None:
            with self._lock:
                if self._key is None:
                    assert self._source is not None
                    self._key = _checked_key(self._source(), "TASKCHAIN_LLM_API_KEY_PARAMETER")
        return self._key

    def _body(self, messages: Sequence[Mapping[str, str]]) -> bytes:
        """The JSON request body."""
        payload: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [dict(m) for m in messages],
            "stream": False,
        }
        if self.settings.temperature is not None:
            payload["temperature"] = self.settings.temperature
        if self.settings.max_tokens is not None:
            payload["max_tokens"] = self.settings.max_tokens
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def _attempt(self, body: bytes, key: str, deadline: float) -> Completion:
        """One HTTP request on a new connection; raises :class:`ModelError` on any failure."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise ModelError("deadline")
        connect = min(self.settings.connect_timeout, remaining)
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=connect, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=connect)
        applied = [connect]  # the timeout of the socket operation under way
        try:
            try:
                conn.connect()
            except TimeoutError:
                if connect < self.settings.connect_timeout:
                    raise ModelError("deadline") from None
                raise ModelError("connection", detail="connect_timeout") from None
            sock = conn.sock
            self._read_timeout(sock, deadline, applied)
            conn.request("POST", self._path, body, self._headers(key))
            response = conn.getresponse()
            raw = self._read_body(response, sock, deadline, applied)
        except TimeoutError:
            # Cut short by the deadline, or the service is slow: only the latter is worth a retry.
            if applied[0] < self.settings.read_timeout:
                raise ModelError("deadline") from None
            raise ModelError("timeout", timeout=applied[0]) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ModelError("connection", detail=_network(exc)) from None
        finally:
            conn.close()
        return self._parse(response, raw, key)

    def _read_timeout(self, sock: socket.socket, deadline: float, applied: list[float]) -> None:
        """Set ``sock``'s timeout to the read timeout, cut to what is left before ``deadline``."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise ModelError("deadline")
        applied[0] = min(self.settings.read_timeout, remaining)
        sock.settimeout(applied[0])

    def _read_body(
        self,
        response: http.client.HTTPResponse,
        sock: socket.socket,
        deadline: float,
        applied: list[float],
    ) -> bytes:
        """The body, a chunk at a time, so that neither the size cap nor the deadline is passed
        (a service trickling bytes would otherwise hold each read just under the timeout)."""
        length = response.getheader("Content-Length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise ModelError("malformed", status=response.status, detail="too_big")
        chunks: list[bytes] = []
        total = 0
        while True:
            self._read_timeout(sock, deadline, applied)
            chunk = response.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > MAX_BODY:
                raise ModelError("malformed", status=response.status, detail="too_big")
            chunks.append(chunk)

    def _headers(self, key: str) -> dict[str, str]:
        """The request headers (the only place the key goes)."""
        return {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"taskchain/{__version__}",
        }

    def _parse(self, response: http.client.HTTPResponse, raw: bytes, key: str) -> Completion:
        """The completion in a 2xx body; a :class:`ModelError` for any other status or shape."""
        status = response.status
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = None
        if not 200 <= status < 300:
            retry_after = _retry_after(response.getheader("Retry-After"), self._wall())
            kind = "rate_limited" if status == 429 else "server" if status >= 500 else "client"
            # The provider's words explain a refused request ("context length exceeded"); for a
            # refused key they might quote it, and a transient failure needs no explaining.
            detail = (
                provider_message(data, key)
                if kind == "client" and status not in (401, 403)
                else None
            )
            raise ModelError(kind, status=status, detail=detail, retry_after=retry_after)
        if not isinstance(data, dict):
            raise ModelError("malformed", status=status, detail="not_json")
        choices = data.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict) or "content" not in message:
            raise ModelError("malformed", status=status, detail="no_content")
        content = message["content"]
        if content is not None and not isinstance(content, str):
            raise ModelError("malformed", status=status, detail="not_text")
        if not content or not content.strip():
            reason = first.get("finish_reason") if isinstance(first, dict) else None
            detail = {"length": "finish_length", "content_filter": "finish_filter"}.get(str(reason))
            raise ModelError("empty", status=status, detail=detail)
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        named = data.get("model")
        return Completion(
            text=content,
            model=named if isinstance(named, str) and named else self.settings.model,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            latency=0.0,
            calls=1,
        )

    def _log(self, attempt: int, status: int | None, began: float, outcome: str) -> None:
        """One line per HTTP request: model, status, latency, attempt; never the key or prompt."""
        latency_ms = round((self._clock() - began) * 1000)
        _log.info(
            "model call %s attempt %d: %s (HTTP %s, %d ms)",
            self.settings.model,
            attempt,
            outcome,
            status if status is not None else "-",
            latency_ms,
            extra={
                "llm_model": self.settings.model,
                "llm_status": status,
                "llm_latency_ms": latency_ms,
                "llm_attempt": attempt,
                "llm_outcome": outcome,
            },
        )


def key_from_parameter(name: str) -> Callable[[], str]:
    """A source of the key: reads the SSM SecureString ``name`` (decrypted) when called.

    boto3 is imported only then. The SSM client has the bounded timeouts and retries of every
    AWS client taskchain builds (:func:`taskchain.store.aws_config.client_config`), so a hung SSM
    costs a known time.
    """

    def read() -> str:
        from aws_lambda_powertools.utilities import parameters

        from taskchain.store.aws_config import client_config

        variable = "TASKCHAIN_LLM_API_KEY_PARAMETER"
        try:
            value = parameters.SSMProvider(boto_config=client_config()).get(name, decrypt=True)
        except parameters.GetParameterError as exc:
            cause = type(exc.__cause__ or exc.__context__ or exc).__name__
            raise ConfigError(
                variable,
                f"无法读取 SSM 参数 {name}（{cause}）",
                f"cannot read SSM parameter {name} ({cause})",
            ) from None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                variable, f"SSM 参数 {name} 为空或不是字符串", f"SSM parameter {name} is empty"
            )
        return value.strip()

    return read


def _checked_key(key: str, variable: str) -> str:
    """``key`` stripped, if it can travel in a header; the error never quotes it."""
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise ConfigError(
            variable,
            "密钥只能由可打印的 ASCII 字符组成，不能含空白",
            "the key must be printable ASCII characters without whitespace",
        )
    return key


def _network(exc: BaseException) -> str:
    """Which of :data:`_DETAILS`'s network failures ``exc`` is."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(
        exc, ConnectionError | http.client.RemoteDisconnected | http.client.IncompleteRead
    ):
        return "reset"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    return "network"


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` of seconds or an HTTP date; None when absent or bad."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _count(value: object) -> int | None:
    """A token count, if ``value`` is one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
