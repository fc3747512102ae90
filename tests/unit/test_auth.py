"""Service tokens: parsing, the constant-time check, header forms, anonymous mode, SSM, cold start."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskchain.bootstrap import make_handler
from taskchain.config import ConfigError
from taskchain.http import auth
from taskchain.http.auth import ANONYMOUS_TENANT, Authenticator, load_tokens, token_digest
from taskchain.http.errors import UnauthorizedError
from taskchain.http.events import LocalContext, http_event
from taskchain.http.settings import HttpSettings

ROOT = Path(__file__).resolve().parents[2]
ACME, GLOBEX = "tok-acme-123", "tok-globex-456"
TOKENS = {token_digest(ACME): "acme", token_digest(GLOBEX): "globex"}
PAIRS = f"acme=sha256:{token_digest(ACME)}, globex=sha256:{token_digest(GLOBEX).upper()}"


def settings(**env: str) -> HttpSettings:
    return HttpSettings.from_env({"TASKCHAIN_STORE": "memory", **env})


# --- parsing ------------------------------------------------------------------------------------


def test_pairs_parse_to_digests_of_tenants() -> None:
    assert load_tokens(settings(TASKCHAIN_API_TOKENS=PAIRS)) == TOKENS


@pytest.mark.parametrize(
    "raw",
    [
        "acme=tok-acme-123",  # a token, not its digest
        f"acme=md5:{token_digest(ACME)}",
        f"=sha256:{token_digest(ACME)}",
        f"acme=sha256:{token_digest(ACME)[:-1]}",
        f"ac me=sha256:{token_digest(ACME)}",
    ],
)
def test_malformed_pairs_fail_naming_the_variable_not_the_value(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(TASKCHAIN_API_TOKENS=raw)
    assert caught.value.variable == "TASKCHAIN_API_TOKENS"
    assert "tok-acme-123" not in str(caught.value)


def test_no_tokens_without_anonymous_mode_fails_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_tokens(settings())
    assert caught.value.variable == "TASKCHAIN_API_TOKENS"
    assert load_tokens(settings(TASKCHAIN_ALLOW_ANONYMOUS="true")) == {}


# --- checking a request's token ---------------------------------------------------------------


@pytest.fixture
def authenticator() -> Authenticator:
    return Authenticator(TOKENS)


@pytest.mark.parametrize(
    ("headers", "tenant"),
    [
        ({"Authorization": f"Bearer {ACME}"}, "acme"),
        ({"authorization": f"bearer   {GLOBEX}  "}, "globex"),
        ({"X-Api-Key": ACME}, "acme"),
        ({"x-api-key": f" {GLOBEX} "}, "globex"),
        ({"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": ACME}, "acme"),
    ],
)
def test_bearer_and_api_key_header_forms(
    authenticator: Authenticator, headers: dict[str, str], tenant: str
) -> None:
    assert authenticator.tenant(headers) == tenant


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong"},
        {"Authorization": ACME},  # no scheme
        {"X-Api-Key": "wrong"},
        {"X-Other-Key": ACME},
        {"Authorization": f"Bearer {ACME}x"},
    ],
)
def test_missing_and_wrong_tokens_raise_the_same_error(
    authenticator: Authenticator, headers: dict[str, str]
) -> None:
    with pytest.raises(UnauthorizedError) as caught:
        authenticator.tenant(headers)
    assert caught.value.to_body("en") == UnauthorizedError().to_body("en")
    assert "acme" not in str(caught.value.to_body("zh")) + str(caught.value.to_body("en"))


def test_every_digest_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[bytes] = []
    original = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    many = {token_digest(f"t{i}"): f"tenant{i}" for i in range(5)}
    authenticator = Authenticator({token_digest(ACME): "acme", **many})
    assert authenticator.tenant({"Authorization": f"Bearer {ACME}"}) == "acme"  # the first one
    assert len(compared) == 6
    compared.clear()
    with pytest.raises(UnauthorizedError):
        authenticator.tenant({"Authorization": "Bearer nobody"})
    assert len(compared) == 6


def test_presented_tokens_are_hashed_before_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: seen.append(a) or a == b)
    Authenticator(TOKENS).tenant({"X-Api-Key": ACME})
    assert seen
    assert all(len(a) == 32 and ACME.encode() not in a for a in seen)


def test_a_custom_header_replaces_x_api_key() -> None:
    custom = Authenticator(TOKENS, header="X-Taskchain-Key")
    assert custom.tenant({"x-taskchain-key": ACME}) == "acme"
    with pytest.raises(UnauthorizedError):
        custom.tenant({"X-Api-Key": ACME})


def test_anonymous_mode_is_tenant_local_but_still_refuses_wrong_tokens() -> None:
    anonymous = Authenticator(TOKENS, anonymous=True)
    assert anonymous.tenant({}) == ANONYMOUS_TENANT
    assert anonymous.tenant({"X-Api-Key": ACME}) == "acme"
    with pytest.raises(UnauthorizedError):
        anonymous.tenant({"X-Api-Key": "wrong"})


def test_anonymous_mode_is_off_by_default() -> None:
    assert Authenticator(TOKENS).anonymous is False
    assert settings(TASKCHAIN_API_TOKENS=PAIRS).allow_anonymous is False


# --- SSM Parameter Store -----------------------------------------------------------------------


@pytest.fixture
def ssm(aws_env: None) -> Iterator[object]:
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


def test_tokens_come_from_a_secure_string_parameter(ssm: object) -> None:
    ssm.put_parameter(Name="/taskchain/api-tokens", Value=PAIRS, Type="SecureString")  # type: ignore[attr-defined]
    got = load_tokens(settings(TASKCHAIN_API_TOKENS_PARAMETER="/taskchain/api-tokens"))
    assert got == TOKENS


def test_parameter_and_variable_tokens_are_merged(ssm: object) -> None:
    ssm.put_parameter(
        Name="/tc/one", Value=f"acme=sha256:{token_digest(ACME)}", Type="SecureString"
    )  # type: ignore[attr-defined]
    got = load_tokens(
        settings(
            TASKCHAIN_API_TOKENS_PARAMETER="/tc/one",
            TASKCHAIN_API_TOKENS=f"globex=sha256:{token_digest(GLOBEX)}",
        )
    )
    assert got == TOKENS


def test_a_missing_parameter_fails_at_cold_start_naming_the_variable(ssm: object) -> None:
    with pytest.raises(ConfigError) as caught:
        load_tokens(settings(TASKCHAIN_API_TOKENS_PARAMETER="/taskchain/missing"))
    assert caught.value.variable == "TASKCHAIN_API_TOKENS_PARAMETER"
    assert "ParameterNotFound" in str(caught.value)


def test_a_malformed_parameter_fails_without_echoing_it(ssm: object) -> None:
    ssm.put_parameter(Name="/tc/bad", Value=f"acme={ACME}", Type="SecureString")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as caught:
        load_tokens(settings(TASKCHAIN_API_TOKENS_PARAMETER="/tc/bad"))
    assert caught.value.variable == "TASKCHAIN_API_TOKENS_PARAMETER"
    assert ACME not in str(caught.value)


def test_the_handler_accepts_tokens_from_the_parameter(ssm: object) -> None:
    ssm.put_parameter(Name="/tc/handler", Value=PAIRS, Type="SecureString")  # type: ignore[attr-defined]
    handler = make_handler(
        {"TASKCHAIN_STORE": "memory", "TASKCHAIN_API_TOKENS_PARAMETER": "/tc/handler"}
    )
    ok = handler(http_event("GET", "/v1/sessions", headers={"X-Api-Key": GLOBEX}), LocalContext())
    refused = handler(http_event("GET", "/v1/sessions"), LocalContext())
    assert (ok["statusCode"], refused["statusCode"]) == (200, 401)


def test_the_parameter_is_read_once_per_cold_start() -> None:
    reads: list[str] = []

    def fetch(name: str) -> str:
        reads.append(name)
        return PAIRS

    handler = make_handler(
        {"TASKCHAIN_STORE": "memory", "TASKCHAIN_API_TOKENS_PARAMETER": "/p"}, fetch_parameter=fetch
    )
    for _ in range(3):
        event = http_event("GET", "/v1/sessions", headers={"X-Api-Key": ACME})
        assert handler(event, LocalContext())["statusCode"] == 200
    assert reads == ["/p"]


# --- cold start ------------------------------------------------------------------------------


def test_make_handler_refuses_to_start_without_tokens() -> None:
    with pytest.raises(ConfigError) as caught:
        make_handler({"TASKCHAIN_STORE": "memory"})
    assert caught.value.variable == "TASKCHAIN_API_TOKENS"


def test_importing_the_lambda_module_without_tokens_fails_naming_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKCHAIN_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import handlers.aws_lambda"],
        env={**env, "TASKCHAIN_STORE": "memory"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ConfigError" in result.stderr
    assert "TASKCHAIN_API_TOKENS" in result.stderr
