"""TASKCHAIN_LLM_* settings: providers and their defaults, overrides, every bad value named."""

from __future__ import annotations

import pytest

from taskchain.config import ConfigError
from taskchain.llm.settings import PROVIDERS, VARIABLES, LlmSettings

KEY = "sk-test-3f9a7c1e5b2d4068"


def settings(**env: str) -> LlmSettings | None:
    return LlmSettings.from_env(env)


def configured(**env: str) -> LlmSettings:
    got = LlmSettings.from_env({"TASKCHAIN_LLM_API_KEY": KEY, **env})
    assert got is not None
    return got


def refused(variable: str, **env: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env({"TASKCHAIN_LLM_API_KEY": KEY, **env})
    assert caught.value.variable == variable
    return caught.value


@pytest.mark.parametrize("provider", ["", "  "])
def test_no_provider_means_no_model(provider: str) -> None:
    assert settings(TASKCHAIN_LLM_PROVIDER=provider, TASKCHAIN_LLM_API_KEY=KEY) is None
    assert settings() is None


@pytest.mark.parametrize(
    ("provider", "url", "model"),
    [
        ("qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus"),
        ("deepseek", "https://api.deepseek.com/v1", "deepseek-chat"),
        ("glm", "https://open.bigmodel.cn/api/paas/v4", "glm-4-flash"),
        ("openai", "https://api.openai.com/v1", "gpt-4o-mini"),
    ],
)
def test_each_provider_has_its_endpoint_and_model(provider: str, url: str, model: str) -> None:
    got = configured(TASKCHAIN_LLM_PROVIDER=provider.upper())
    assert (got.provider, got.base_url, got.model) == (provider, url, model)
    assert PROVIDERS[provider] == (url, model)


def test_defaults_bound_every_call() -> None:
    got = configured(TASKCHAIN_LLM_PROVIDER="qwen")
    assert (got.connect_timeout, got.read_timeout, got.max_retries, got.concurrency) == (
        5.0,
        60.0,
        3,
        4,
    )
    assert (got.temperature, got.max_tokens, got.api_key_parameter) == (None, None, None)


def test_variables_override_the_defaults_and_the_url_loses_its_slash() -> None:
    got = configured(
        TASKCHAIN_LLM_PROVIDER="custom",
        TASKCHAIN_LLM_BASE_URL="http://127.0.0.1:8000/v1/",
        TASKCHAIN_LLM_MODEL="local-llama",
        TASKCHAIN_LLM_CONNECT_TIMEOUT_S="1.5",
        TASKCHAIN_LLM_READ_TIMEOUT_S="120",
        TASKCHAIN_LLM_MAX_RETRIES="0",
        TASKCHAIN_LLM_CONCURRENCY="8",
        TASKCHAIN_LLM_TEMPERATURE="0.2",
        TASKCHAIN_LLM_MAX_TOKENS="2048",
    )
    assert got == LlmSettings(
        provider="custom",
        base_url="http://127.0.0.1:8000/v1",
        model="local-llama",
        api_key=KEY,
        connect_timeout=1.5,
        read_timeout=120.0,
        max_retries=0,
        concurrency=8,
        temperature=0.2,
        max_tokens=2048,
    )


def test_a_parameter_name_stands_in_for_the_key() -> None:
    got = settings(TASKCHAIN_LLM_PROVIDER="qwen", TASKCHAIN_LLM_API_KEY_PARAMETER="/tc/llm-key")
    assert got is not None
    assert (got.api_key, got.api_key_parameter) == (None, "/tc/llm-key")


def test_every_variable_read_is_listed() -> None:
    assert len(set(VARIABLES)) == len(VARIABLES) == 11
    assert all(v.startswith("TASKCHAIN_LLM_") for v in VARIABLES)


def test_the_key_is_never_in_repr_or_str() -> None:
    got = configured(TASKCHAIN_LLM_PROVIDER="deepseek")
    assert got.api_key == KEY
    assert KEY not in repr(got)
    assert KEY not in str(got)


def test_no_key_at_all_is_refused_naming_both_ways_to_give_one() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(TASKCHAIN_LLM_PROVIDER="qwen")
    assert caught.value.variable == "TASKCHAIN_LLM_API_KEY"
    assert "TASKCHAIN_LLM_API_KEY_PARAMETER" in caught.value.message("zh")
    assert "TASKCHAIN_LLM_API_KEY_PARAMETER" in caught.value.message("en")


def test_an_unknown_provider_is_refused_listing_the_known_ones() -> None:
    error = refused("TASKCHAIN_LLM_PROVIDER", TASKCHAIN_LLM_PROVIDER="gemini")
    assert "deepseek" in error.message("en")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TASKCHAIN_LLM_MODEL": "m"}, "TASKCHAIN_LLM_BASE_URL"),
        ({"TASKCHAIN_LLM_BASE_URL": "https://llm.example.com/v1"}, "TASKCHAIN_LLM_MODEL"),
    ],
)
def test_custom_needs_both_url_and_model(env: dict[str, str], variable: str) -> None:
    refused(variable, TASKCHAIN_LLM_PROVIDER="custom", **env)


@pytest.mark.parametrize(
    "url",
    [
        "api.deepseek.com/v1",
        "ftp://api.deepseek.com/v1",
        "https://",
        "https:///v1",
        "https://api.example.com:99999/v1",
        "https://api.example.com/v1?key=x",
        "https://api.example.com/v 1",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    refused("TASKCHAIN_LLM_BASE_URL", TASKCHAIN_LLM_PROVIDER="qwen", TASKCHAIN_LLM_BASE_URL=url)


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    error = refused(
        "TASKCHAIN_LLM_BASE_URL",
        TASKCHAIN_LLM_PROVIDER="openai",
        TASKCHAIN_LLM_BASE_URL="https://me:hunter2@api.example.com/v1",
    )
    assert "hunter2" not in str(error) + error.message("zh")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKCHAIN_LLM_CONNECT_TIMEOUT_S", "fast"),
        ("TASKCHAIN_LLM_CONNECT_TIMEOUT_S", "0"),
        ("TASKCHAIN_LLM_CONNECT_TIMEOUT_S", "61"),
        ("TASKCHAIN_LLM_READ_TIMEOUT_S", "-1"),
        ("TASKCHAIN_LLM_READ_TIMEOUT_S", "nan"),
        ("TASKCHAIN_LLM_READ_TIMEOUT_S", "inf"),
        ("TASKCHAIN_LLM_READ_TIMEOUT_S", "901"),
        ("TASKCHAIN_LLM_MAX_RETRIES", "2.5"),
        ("TASKCHAIN_LLM_MAX_RETRIES", "-1"),
        ("TASKCHAIN_LLM_MAX_RETRIES", "11"),
        ("TASKCHAIN_LLM_CONCURRENCY", "0"),
        ("TASKCHAIN_LLM_CONCURRENCY", "33"),
        ("TASKCHAIN_LLM_CONCURRENCY", "four"),
        ("TASKCHAIN_LLM_TEMPERATURE", "3"),
        ("TASKCHAIN_LLM_TEMPERATURE", "warm"),
        ("TASKCHAIN_LLM_MAX_TOKENS", "0"),
        ("TASKCHAIN_LLM_MAX_TOKENS", "lots"),
        ("TASKCHAIN_LLM_MODEL", "qwen plus"),
        ("TASKCHAIN_LLM_API_KEY_PARAMETER", "not a parameter"),
    ],
)
def test_out_of_range_or_unreadable_values_are_refused_by_name(variable: str, value: str) -> None:
    error = refused(variable, TASKCHAIN_LLM_PROVIDER="qwen", **{variable: value})
    assert variable in error.message("zh")
    assert variable in error.message("en")


@pytest.mark.parametrize("key", ["sk-abc\ndef", "sk abc", "密钥abc"])
def test_a_key_that_cannot_travel_in_a_header_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(TASKCHAIN_LLM_PROVIDER="qwen", TASKCHAIN_LLM_API_KEY=key)
    assert caught.value.variable == "TASKCHAIN_LLM_API_KEY"
    for text in (str(caught.value), caught.value.message("zh"), repr(caught.value.details)):
        assert "abc" not in text


def test_the_zero_temperature_is_kept() -> None:
    assert (
        configured(TASKCHAIN_LLM_PROVIDER="glm", TASKCHAIN_LLM_TEMPERATURE="0").temperature == 0.0
    )
