"""Why a model call gave no usable answer: :class:`ModelError`, worded in Chinese and English."""

from __future__ import annotations

import re
from typing import Any


class ModelError(Exception):
    """A model call that gave no usable answer.

    Attributes
    ----------
    kind
        ``timeout``, ``rate_limited``, ``server``, ``client``, ``connection``, ``malformed``,
        ``empty`` or ``deadline``; the first four are retried by :class:`ChatClient`.
    status
        The HTTP status, when a response came.
    calls
        HTTP requests made by the call, retries included.
    retry_after
        Seconds the service asked to wait (``Retry-After``), when it did.
    last
        For ``deadline``: the failure that the deadline left no time to retry, if any.
    """

    def __init__(
        self,
        kind: str,
        *,
        status: int | None = None,
        calls: int = 0,
        detail: str | None = None,
        retry_after: float | None = None,
        timeout: float | None = None,
        last: ModelError | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.calls = calls
        self.detail = detail  # short and sanitized: never the key, never a whole body
        self.retry_after = retry_after
        self.timeout = timeout
        self.last = last
        super().__init__(kind, status)

    def __str__(self) -> str:
        return self.message("en")

    def message(self, language: str = "zh") -> str:
        """The reason, wholly in Chinese (``zh``, the default) or in English (``en``)."""
        en = language == "en"
        text = self._reason(en)
        if self.calls > 1:
            text += f"; {self.calls} requests made" if en else f"（共请求 {self.calls} 次）"
        return text

    def _reason(self, en: bool) -> str:
        """The reason without the request count."""
        i = 1 if en else 0
        specific = f"{self.kind}:{self.status}"
        template = _REASONS.get(specific) or _REASONS.get(self.kind) or _REASONS["client"]
        fixed = _DETAILS.get(self.detail or "")
        seconds = f"{self.timeout:g}" if self.timeout is not None else "?"
        text = template[i].format(
            status=self.status, seconds=seconds, what=fixed[i] if fixed else "?"
        )
        if fixed and "{what}" not in template[i]:
            text += f" ({fixed[i]})" if en else f"（{fixed[i]}）"
        elif self.detail and not fixed:  # the provider's own words (never given for 401/403)
            text += f". The service says: {self.detail}" if en else f"。服务的说明：{self.detail}"
        if self.last is not None:
            last = self.last._reason(en)
            text += f" (last failure: {last})" if en else f"（最后一次失败：{last}）"
        return text


_KEY_REFUSED = (
    "模型服务拒绝了 API 密钥（HTTP {status}）：请检查 TASKCHAIN_LLM_API_KEY 或 "
    "TASKCHAIN_LLM_API_KEY_PARAMETER",
    "the model service refused the API key (HTTP {status}): check TASKCHAIN_LLM_API_KEY or "
    "TASKCHAIN_LLM_API_KEY_PARAMETER",
)
# The reason of each kind (or kind:status), in Chinese and in English.
_REASONS: dict[str, tuple[str, str]] = {
    "deadline": (
        "截止时间已到，模型调用没有完成",
        "the deadline passed before the model call finished",
    ),
    "timeout": (
        "模型服务在 {seconds} 秒内没有回答",
        "the model service did not answer within {seconds} s",
    ),
    "rate_limited": ("模型服务限流（HTTP 429）", "the model service is rate limiting (HTTP 429)"),
    "server": ("模型服务出错（HTTP {status}）", "the model service failed (HTTP {status})"),
    "client": (
        "模型服务拒绝了请求（HTTP {status}）",
        "the model service refused the request (HTTP {status})",
    ),
    "client:401": _KEY_REFUSED,
    "client:403": _KEY_REFUSED,
    "client:404": (
        "模型服务找不到该接口或模型（HTTP 404）：请检查 TASKCHAIN_LLM_BASE_URL 和 TASKCHAIN_LLM_MODEL",
        "the model service has no such endpoint or model (HTTP 404): check TASKCHAIN_LLM_BASE_URL "
        "and TASKCHAIN_LLM_MODEL",
    ),
    "connection": ("无法连接模型服务（{what}）", "cannot reach the model service ({what})"),
    "malformed": (
        "模型服务的回答格式不对：{what}",
        "the model service's answer is not in the expected form: {what}",
    ),
    "empty": ("模型返回了空白内容", "the model answered with blank content"),
}
# Fixed details (ModelError.detail): what a connection failure or a malformed answer was.
_DETAILS: dict[str, tuple[str, str]] = {
    "refused": ("连接被拒绝", "connection refused"),
    "reset": ("连接被重置或提前关闭", "connection reset or closed early"),
    "dns": ("无法解析主机名", "host name not resolved"),
    "tls": ("TLS 握手或证书校验失败", "TLS handshake or certificate check failed"),
    "connect_timeout": ("连接超时", "connect timed out"),
    "network": ("网络错误", "network error"),
    "not_json": ("不是 JSON 对象", "not a JSON object"),
    "no_content": ("缺少 choices[0].message.content", "no choices[0].message.content"),
    "not_text": ("content 不是文本", "content is not text"),
    "too_big": ("回答超过 4 MB", "the body is over 4 MB"),
    "finish_length": ("回答达到了长度上限", "the answer hit its length limit"),
    "finish_filter": ("内容被服务过滤", "the content was filtered by the service"),
}


def provider_message(data: Any, key: str) -> str | None:
    """The provider's own short error message (``error.message``), sanitized; None if absent."""
    if not isinstance(data, dict):
        return None
    error = data.get("error", data)
    text = error.get("message") if isinstance(error, dict) else error
    return sanitize(text, key) if isinstance(text, str) else None


def sanitize(text: str, key: str) -> str | None:
    """``text`` on one line, without control characters or the key, at most 200 characters."""
    text = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())
    if key:
        text = text.replace(key, "***")
    if len(text) > 200:
        text = text[:199] + "…"
    return text or None
