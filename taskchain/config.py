"""Configuration from environment variables, checked once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from taskchain.errors import TaskchainError

STORES = ("memory", "sqlite", "dynamodb")
# Every variable taskchain reads; template.yaml may set no other TASKCHAIN_* name.
VARIABLES = (
    "TASKCHAIN_STORE",
    "TASKCHAIN_HOME",
    "TASKCHAIN_SESSION_TTL_HOURS",
    "TASKCHAIN_TABLE_NAME",
    "TASKCHAIN_DYNAMODB_ENDPOINT",
    "TASKCHAIN_IDEMPOTENCY_TABLE_NAME",
    "TASKCHAIN_API_TOKENS",
    "TASKCHAIN_API_TOKENS_PARAMETER",
    "TASKCHAIN_API_KEY_HEADER",
    "TASKCHAIN_ALLOW_ANONYMOUS",
)


class ConfigError(TaskchainError):
    """A configuration variable has a value taskchain cannot use; the message names it."""

    code = "INVALID_CONFIGURATION"

    def __init__(self, variable: str, problem_zh: str, problem_en: str) -> None:
        super().__init__(
            f"配置变量 {variable} 无效：{problem_zh}",
            f"configuration variable {variable} is invalid: {problem_en}",
            details={"variable": variable},
        )
        self.variable = variable


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_TOKEN_PAIR = re.compile(r"^(?P<tenant>[A-Za-z0-9_.\-]{1,64})=sha256:(?P<digest>[0-9a-fA-F]{64})$")
_HEADER = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


def parse_tokens(raw: str, variable: str) -> dict[str, str]:
    """``tenant=sha256:<hex>`` pairs, comma-separated, as ``{sha256 hex: tenant}``.

    Raises
    ------
    ConfigError
        A pair is malformed (the message names ``variable``, never a token).
    """
    tokens: dict[str, str] = {}
    for i, pair in enumerate(p.strip() for p in raw.split(",")):
        if not pair:
            continue
        match = _TOKEN_PAIR.match(pair)
        if match is None:
            raise ConfigError(
                variable,
                f"第 {i + 1} 项不是 tenant=sha256:<64 位十六进制> 的形式（只保存令牌的 SHA-256，"
                "不要保存令牌本身）",
                f"entry {i + 1} is not tenant=sha256:<64 hex digits> "
                "(store the SHA-256 of each token, never the token itself)",
            )
        tokens[match.group("digest").lower()] = match.group("tenant")
    return tokens


def _flag(env: Mapping[str, str], variable: str) -> bool:
    """A boolean variable (true/false, 1/0, yes/no, on/off)."""
    value = env.get(variable, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(variable, f"{value!r} 不是 true 或 false", f"{value!r} is not true or false")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the composition root needs to build the service."""

    store: str = "sqlite"
    home: Path | None = None
    session_ttl_hours: float = 168.0
    table_name: str | None = None
    dynamodb_endpoint: str | None = None
    idempotency_table_name: str | None = None
    api_tokens: Mapping[str, str] = field(default_factory=dict)  # sha256 hex -> tenant
    api_tokens_parameter: str | None = None
    allow_anonymous: bool = False
    api_key_header: str = "X-Api-Key"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check ``TASKCHAIN_*`` variables; raise :class:`ConfigError` naming the bad one."""
        env = os.environ if env is None else env
        in_lambda = bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
        store = (
            (env.get("TASKCHAIN_STORE") or ("dynamodb" if in_lambda else "sqlite")).strip().lower()
        )
        if store not in STORES:
            raise ConfigError(
                "TASKCHAIN_STORE",
                f"{store!r} 不是 {'、'.join(STORES)} 之一",
                f"{store!r} is not one of {', '.join(STORES)}",
            )
        ttl_raw = env.get("TASKCHAIN_SESSION_TTL_HOURS", "").strip() or "168"
        try:
            ttl = float(ttl_raw)
        except ValueError:
            raise ConfigError(
                "TASKCHAIN_SESSION_TTL_HOURS",
                f"{ttl_raw!r} 不是数字",
                f"{ttl_raw!r} is not a number",
            ) from None
        if not 0 < ttl <= 24 * 365:
            raise ConfigError(
                "TASKCHAIN_SESSION_TTL_HOURS",
                "须在 0 到 8760 小时之间",
                "must be between 0 and 8760 hours",
            )
        home = env.get("TASKCHAIN_HOME", "").strip()
        table = env.get("TASKCHAIN_TABLE_NAME", "").strip() or None
        if store == "dynamodb" and not table:
            raise ConfigError(
                "TASKCHAIN_TABLE_NAME",
                "TASKCHAIN_STORE 为 dynamodb 时必须设置",
                "required when TASKCHAIN_STORE is dynamodb",
            )
        header = env.get("TASKCHAIN_API_KEY_HEADER", "").strip() or "X-Api-Key"
        if not _HEADER.match(header):
            raise ConfigError(
                "TASKCHAIN_API_KEY_HEADER",
                f"{header!r} 不是有效的请求头名称",
                f"{header!r} is not a header name",
            )
        return cls(
            store=store,
            home=Path(home).expanduser() if home else None,
            session_ttl_hours=ttl,
            table_name=table,
            dynamodb_endpoint=env.get("TASKCHAIN_DYNAMODB_ENDPOINT", "").strip() or None,
            idempotency_table_name=env.get("TASKCHAIN_IDEMPOTENCY_TABLE_NAME", "").strip() or None,
            api_tokens=parse_tokens(env.get("TASKCHAIN_API_TOKENS", ""), "TASKCHAIN_API_TOKENS"),
            api_tokens_parameter=env.get("TASKCHAIN_API_TOKENS_PARAMETER", "").strip() or None,
            allow_anonymous=_flag(env, "TASKCHAIN_ALLOW_ANONYMOUS"),
            api_key_header=header,
        )
