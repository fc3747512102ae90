"""The HTTP application's own configuration: service tokens and how callers present them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from taskchain.config import ConfigError

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
class HttpSettings:
    """Service tokens (as SHA-256 digests), where they come from, and the key header."""

    api_tokens: Mapping[str, str] = field(default_factory=dict)  # sha256 hex -> tenant
    api_tokens_parameter: str | None = None
    allow_anonymous: bool = False
    api_key_header: str = "X-Api-Key"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HttpSettings:
        """Read and check the HTTP ``TASKCHAIN_*`` variables; raise :class:`ConfigError`."""
        env = os.environ if env is None else env
        header = env.get("TASKCHAIN_API_KEY_HEADER", "").strip() or "X-Api-Key"
        if not _HEADER.match(header):
            raise ConfigError(
                "TASKCHAIN_API_KEY_HEADER",
                f"{header!r} 不是有效的请求头名称",
                f"{header!r} is not a header name",
            )
        return cls(
            api_tokens=parse_tokens(env.get("TASKCHAIN_API_TOKENS", ""), "TASKCHAIN_API_TOKENS"),
            api_tokens_parameter=env.get("TASKCHAIN_API_TOKENS_PARAMETER", "").strip() or None,
            allow_anonymous=_flag(env, "TASKCHAIN_ALLOW_ANONYMOUS"),
            api_key_header=header,
        )
