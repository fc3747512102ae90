"""Which OpenAI-compatible model to call and how patiently: ``TASKCHAIN_LLM_*``, checked at start-up."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from taskchain.config import VARIABLES as ALL_VARIABLES
from taskchain.config import ConfigError

# provider -> (default base URL, default model); ``custom`` has neither, so both must be set.
PROVIDERS: dict[str, tuple[str | None, str | None]] = {
    "qwen": ("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus"),
    "deepseek": ("https://api.deepseek.com/v1", "deepseek-chat"),
    "glm": ("https://open.bigmodel.cn/api/paas/v4", "glm-4-flash"),
    "openai": ("https://api.openai.com/v1", "gpt-4o-mini"),
    "custom": (None, None),
}

# Every TASKCHAIN_LLM_* variable read here (taskchain.config lists them with the others).
VARIABLES: tuple[str, ...] = tuple(v for v in ALL_VARIABLES if v.startswith("TASKCHAIN_LLM_"))

# A key travels in an HTTP header: printable ASCII without spaces (a newline would split the header).
_KEY = re.compile(r"[\x21-\x7e]{1,4096}")
_PARAMETER = re.compile(r"[A-Za-z0-9_.\-/]{1,2048}")
_MODEL = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """The model endpoint, its key (or where to read it), timeouts, retries and parallelism.

    ``api_key`` is kept out of ``repr`` (and so out of ``str`` and logs). ``max_retries`` counts
    transport retries of one call (429, 5xx, connection errors, read timeouts); waits grow as
    ``backoff_base * 2**n`` seconds, capped by ``backoff_max``, with full jitter.
    """

    provider: str
    base_url: str  # no trailing slash
    model: str
    api_key: str | None = field(default=None, repr=False)
    api_key_parameter: str | None = None  # SSM SecureString name (AWS)
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    concurrency: int = 4
    temperature: float | None = None
    max_tokens: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmSettings | None:
        """Read and check the ``TASKCHAIN_LLM_*`` variables.

        Returns
        -------
        LlmSettings or None
            ``None`` when no model is configured (``TASKCHAIN_LLM_PROVIDER`` unset or empty).

        Raises
        ------
        ConfigError
            A variable is unusable; the error names it and never echoes the key.
        """
        env = os.environ if env is None else env
        provider = _get(env, "TASKCHAIN_LLM_PROVIDER").lower()
        if not provider:
            return None
        if provider not in PROVIDERS:
            raise ConfigError(
                "TASKCHAIN_LLM_PROVIDER",
                f"{provider!r} 不是 {'、'.join(PROVIDERS)} 之一",
                f"{provider!r} is not one of {', '.join(PROVIDERS)}",
            )
        default_url, default_model = PROVIDERS[provider]
        base_url = _base_url(_get(env, "TASKCHAIN_LLM_BASE_URL") or default_url, provider)
        model = _get(env, "TASKCHAIN_LLM_MODEL") or default_model
        if not model:
            raise ConfigError(
                "TASKCHAIN_LLM_MODEL",
                "TASKCHAIN_LLM_PROVIDER 为 custom 时必须设置模型名",
                "a model name is required when TASKCHAIN_LLM_PROVIDER is custom",
            )
        if not _MODEL.fullmatch(model):
            raise ConfigError(
                "TASKCHAIN_LLM_MODEL",
                "模型名不能包含空白或控制字符，且最长 200 个字符",
                "the model name must have no whitespace or control characters, at most 200 of them",
            )
        api_key = _get(env, "TASKCHAIN_LLM_API_KEY") or None
        if api_key is not None and not _KEY.fullmatch(api_key):
            raise ConfigError(  # never echo the key, not even part of it
                "TASKCHAIN_LLM_API_KEY",
                "密钥只能由可打印的 ASCII 字符组成，不能含空白",
                "the key must be printable ASCII characters without whitespace",
            )
        parameter = _get(env, "TASKCHAIN_LLM_API_KEY_PARAMETER") or None
        if parameter is not None and not _PARAMETER.fullmatch(parameter):
            raise ConfigError(
                "TASKCHAIN_LLM_API_KEY_PARAMETER",
                f"{parameter[:80]!r} 不是 SSM 参数名",
                f"{parameter[:80]!r} is not an SSM parameter name",
            )
        if api_key is None and parameter is None:
            raise ConfigError(
                "TASKCHAIN_LLM_API_KEY",
                "没有配置模型的 API 密钥：请设置 TASKCHAIN_LLM_API_KEY，或在 AWS 上用 "
                "TASKCHAIN_LLM_API_KEY_PARAMETER 指定保存密钥的 SSM SecureString 参数",
                "no API key configured for the model: set TASKCHAIN_LLM_API_KEY, or on AWS name "
                "the SSM SecureString parameter holding it in TASKCHAIN_LLM_API_KEY_PARAMETER",
            )
        return cls(
            provider=provider,
            base_url=base_url,
            model=model,
            api_key=api_key,
            api_key_parameter=parameter,
            connect_timeout=_number(env, "TASKCHAIN_LLM_CONNECT_TIMEOUT_S", 5.0, 0.0, 60.0),
            read_timeout=_number(env, "TASKCHAIN_LLM_READ_TIMEOUT_S", 60.0, 0.0, 900.0),
            max_retries=_integer(env, "TASKCHAIN_LLM_MAX_RETRIES", 3, 0, 10),
            concurrency=_integer(env, "TASKCHAIN_LLM_CONCURRENCY", 4, 1, 32),
            temperature=_optional_number(env, "TASKCHAIN_LLM_TEMPERATURE", 0.0, 2.0),
            max_tokens=_optional_integer(env, "TASKCHAIN_LLM_MAX_TOKENS", 1, 1_000_000),
        )


def _get(env: Mapping[str, str], variable: str) -> str:
    """The stripped value of ``variable``, empty when unset."""
    return env.get(variable, "").strip()


def _base_url(raw: str | None, provider: str) -> str:
    """``raw`` checked as an http(s) base URL, without its trailing slash."""
    variable = "TASKCHAIN_LLM_BASE_URL"
    if not raw:
        raise ConfigError(
            variable,
            f"TASKCHAIN_LLM_PROVIDER 为 {provider} 时必须设置接口地址",
            f"a base URL is required when TASKCHAIN_LLM_PROVIDER is {provider}",
        )
    problem_zh = "须是 http:// 或 https:// 开头、带主机名的地址，例如 https://api.deepseek.com/v1"
    problem_en = (
        "must be an http:// or https:// address with a host, e.g. https://api.deepseek.com/v1"
    )
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        raise ConfigError(variable, problem_zh, problem_en) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", raw):
        raise ConfigError(variable, problem_zh, problem_en)
    if (
        "@" in parts.netloc
    ):  # credentials belong in the key variables, never in a URL that is logged
        raise ConfigError(
            variable,
            "地址中不能包含用户名或密码；密钥请放在 TASKCHAIN_LLM_API_KEY",
            "the address must not carry a user or password; put the key in TASKCHAIN_LLM_API_KEY",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            variable,
            "地址中不能带查询参数或片段（? 或 #）",
            "the address must not carry a query or fragment (? or #)",
        )
    return raw.rstrip("/")


def _parse_float(env: Mapping[str, str], variable: str, low: float, high: float) -> float | None:
    """A number in ``(low, high]`` (``[low, high]`` when ``low`` is 0 and zero is allowed)."""
    raw = _get(env, variable)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            variable, f"{raw[:40]!r} 不是数字", f"{raw[:40]!r} is not a number"
        ) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(
            variable, f"须在 {low:g} 到 {high:g} 之间", f"must be between {low:g} and {high:g}"
        )
    return value


def _number(
    env: Mapping[str, str], variable: str, default: float, low: float, high: float
) -> float:
    """A positive number of seconds at most ``high``; ``default`` when unset."""
    value = _parse_float(env, variable, low, high)
    if value is None:
        return default
    if value <= 0:
        raise ConfigError(variable, "须大于 0", "must be greater than 0")
    return value


def _optional_number(
    env: Mapping[str, str], variable: str, low: float, high: float
) -> float | None:
    """A number in ``[low, high]``, or ``None`` when unset (the provider's default applies)."""
    return _parse_float(env, variable, low, high)


def _optional_integer(env: Mapping[str, str], variable: str, low: int, high: int) -> int | None:
    """A whole number in ``[low, high]``, or ``None`` when unset."""
    raw = _get(env, variable)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            variable, f"{raw[:40]!r} 不是整数", f"{raw[:40]!r} is not a whole number"
        ) from None
    if not low <= value <= high:
        raise ConfigError(
            variable, f"须在 {low} 到 {high} 之间", f"must be between {low} and {high}"
        )
    return value


def _integer(env: Mapping[str, str], variable: str, default: int, low: int, high: int) -> int:
    """A whole number in ``[low, high]``; ``default`` when unset."""
    value = _optional_integer(env, variable, low, high)
    return default if value is None else value
