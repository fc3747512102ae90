"""Service tokens per tenant: loaded once at cold start, stored as SHA-256 digests, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

from taskchain.config import ConfigError
from taskchain.http.errors import UnauthorizedError
from taskchain.http.settings import HttpSettings, parse_tokens

ANONYMOUS_TENANT = "local"


def token_digest(token: str) -> str:
    """The hex SHA-256 of ``token``: what ``tenant=sha256:<hex>`` configuration holds."""
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Maps a request's token to its tenant.

    Parameters
    ----------
    tokens
        ``{sha256 hex: tenant}``; the tokens themselves are never held.
    header
        The API key header accepted besides ``Authorization: Bearer``.
    anonymous
        Local development only: a request without any token is tenant ``local``.
    """

    def __init__(
        self, tokens: Mapping[str, str], *, header: str = "X-Api-Key", anonymous: bool = False
    ) -> None:
        self._digests = tuple((bytes.fromhex(d), tenant) for d, tenant in tokens.items())
        self.header = header
        self._header = header.lower()
        self.anonymous = anonymous

    def tenant(self, headers: Mapping[str, str]) -> str:
        """The tenant whose token ``headers`` carry.

        Raises
        ------
        UnauthorizedError
            No token, or a token no tenant has (one message for both: it names no tenant).
        """
        token = self._presented({k.lower(): v for k, v in headers.items()})
        if token is None:
            if self.anonymous:
                return ANONYMOUS_TENANT
            raise UnauthorizedError(self.header)
        # surrogatepass: a token with an unpaired surrogate (a hand-made event) is just wrong.
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: str | None = None
        # Compare with every digest, without stopping at a match, so the time taken does not
        # depend on which tenant (or whether any) holds the token.
        for digest, tenant in self._digests:
            if hmac.compare_digest(presented, digest):
                found = tenant
        if found is None:
            raise UnauthorizedError(self.header)
        return found

    def _presented(self, headers: Mapping[str, str]) -> str | None:
        """The token from ``Authorization: Bearer`` or the API key header, if any."""
        scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        key = headers.get(self._header, "").strip()
        return key or None


def _read_parameter(name: str) -> str:
    """A SecureString from SSM Parameter Store (boto3 is imported only here, when configured).

    The SSM client has the session store's connect and read timeouts and retry budget
    (:func:`taskchain.store.aws_config.client_config`): a hung SSM fails the cold start in bounded
    time with a :class:`ConfigError` naming the timeout, instead of holding the init.
    """
    from aws_lambda_powertools.utilities import parameters

    from taskchain.store.aws_config import client_config

    try:
        value = parameters.SSMProvider(boto_config=client_config()).get(name, decrypt=True)
    except parameters.GetParameterError as exc:
        # Powertools raises it while handling botocore's error: name that error, not its text.
        cause = type(exc.__cause__ or exc.__context__ or exc).__name__
        raise ConfigError(
            "TASKCHAIN_API_TOKENS_PARAMETER",
            f"无法读取 SSM 参数 {name}（{cause}）",
            f"cannot read SSM parameter {name} ({cause})",
        ) from None
    if not isinstance(value, str):  # untransformed, GetParameter gives the value as a string
        raise ConfigError(
            "TASKCHAIN_API_TOKENS_PARAMETER",
            f"SSM 参数 {name} 不是字符串",
            f"SSM parameter {name} is not a string",
        )
    return value


def load_tokens(
    settings: HttpSettings, *, fetch: Callable[[str], str] | None = None
) -> dict[str, str]:
    """``{sha256 hex: tenant}`` from ``TASKCHAIN_API_TOKENS`` and the SSM parameter, if named.

    Raises
    ------
    ConfigError
        The parameter cannot be read or holds malformed pairs, or no token is configured at
        all while ``TASKCHAIN_ALLOW_ANONYMOUS`` is not ``true``.
    """
    tokens = dict(settings.api_tokens)
    if settings.api_tokens_parameter:
        variable = "TASKCHAIN_API_TOKENS_PARAMETER"
        raw = (fetch or _read_parameter)(settings.api_tokens_parameter)
        from_parameter = parse_tokens(raw, variable)
        if not from_parameter:
            raise ConfigError(
                variable,
                f"SSM 参数 {settings.api_tokens_parameter} 为空",
                f"SSM parameter {settings.api_tokens_parameter} is empty",
            )
        tokens.update(from_parameter)
    if not tokens and not settings.allow_anonymous:
        raise ConfigError(
            "TASKCHAIN_API_TOKENS",
            "没有配置服务令牌：请设置 TASKCHAIN_API_TOKENS（tenant=sha256:<hex>, ...）或 "
            "TASKCHAIN_API_TOKENS_PARAMETER；TASKCHAIN_ALLOW_ANONYMOUS=true 只用于本地开发",
            "no service tokens configured: set TASKCHAIN_API_TOKENS (tenant=sha256:<hex>, ...) or "
            "TASKCHAIN_API_TOKENS_PARAMETER; TASKCHAIN_ALLOW_ANONYMOUS=true is for local development only",
        )
    return tokens
