"""Configuration from environment variables, checked once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from taskchain.errors import TaskchainError

if TYPE_CHECKING:
    from taskchain.llm.settings import LlmSettings

STORES = ("memory", "sqlite", "dynamodb", "tablestore")
# Every variable taskchain reads; template.yaml may set no other TASKCHAIN_* name.
VARIABLES = (
    "TASKCHAIN_STORE",
    "TASKCHAIN_HOME",
    "TASKCHAIN_SESSION_TTL_HOURS",
    "TASKCHAIN_TABLE_NAME",
    "TASKCHAIN_DYNAMODB_ENDPOINT",
    "TASKCHAIN_IDEMPOTENCY_TABLE_NAME",
    "TASKCHAIN_OTS_ENDPOINT",
    "TASKCHAIN_OTS_INSTANCE",
    "TASKCHAIN_FUNCTION_TIMEOUT_MS",
    "TASKCHAIN_API_TOKENS",
    "TASKCHAIN_API_TOKENS_PARAMETER",
    "TASKCHAIN_API_KEY_HEADER",
    "TASKCHAIN_ALLOW_ANONYMOUS",
    "TASKCHAIN_RUN_BUDGET_S",
    "TASKCHAIN_STEP_TIMEOUT_S",
    "TASKCHAIN_RUNS_FUNCTION",
    # the model executor's (taskchain.llm.settings reads them)
    "TASKCHAIN_LLM_PROVIDER",
    "TASKCHAIN_LLM_BASE_URL",
    "TASKCHAIN_LLM_MODEL",
    "TASKCHAIN_LLM_API_KEY",
    "TASKCHAIN_LLM_API_KEY_PARAMETER",
    "TASKCHAIN_LLM_CONNECT_TIMEOUT_S",
    "TASKCHAIN_LLM_READ_TIMEOUT_S",
    "TASKCHAIN_LLM_MAX_RETRIES",
    "TASKCHAIN_LLM_CONCURRENCY",
    "TASKCHAIN_LLM_TEMPERATURE",
    "TASKCHAIN_LLM_MAX_TOKENS",
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


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the composition root needs to build the service and its stores (no HTTP here)."""

    store: str = "sqlite"
    home: Path | None = None
    session_ttl_hours: float = 168.0
    table_name: str | None = None
    dynamodb_endpoint: str | None = None
    idempotency_table_name: str | None = None
    ots_endpoint: str | None = None
    ots_instance: str | None = None
    run_budget: float = 840.0  # seconds of a run one call may work (the platform's time caps it)
    step_timeout: float = 120.0  # seconds one executor attempt may take
    runs_function: str | None = None  # the durable function that works async runs (AWS)
    llm: LlmSettings | None = None  # the configured model, if any

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
        if store in ("dynamodb", "tablestore") and not table:
            raise ConfigError(
                "TASKCHAIN_TABLE_NAME",
                f"TASKCHAIN_STORE 为 {store} 时必须设置",
                f"required when TASKCHAIN_STORE is {store}",
            )
        endpoint = env.get("TASKCHAIN_OTS_ENDPOINT", "").strip() or None
        instance = env.get("TASKCHAIN_OTS_INSTANCE", "").strip() or None
        if store == "tablestore":
            for variable, value in (
                ("TASKCHAIN_OTS_ENDPOINT", endpoint),
                ("TASKCHAIN_OTS_INSTANCE", instance),
            ):
                if not value:
                    raise ConfigError(
                        variable,
                        "TASKCHAIN_STORE 为 tablestore 时必须设置",
                        "required when TASKCHAIN_STORE is tablestore",
                    )
        from taskchain.llm.settings import LlmSettings  # it imports this module

        return cls(
            run_budget=_seconds(env, "TASKCHAIN_RUN_BUDGET_S", 840.0, 24 * 3600),
            step_timeout=_seconds(env, "TASKCHAIN_STEP_TIMEOUT_S", 120.0, 3600),
            runs_function=env.get("TASKCHAIN_RUNS_FUNCTION", "").strip() or None,
            llm=LlmSettings.from_env(env),
            store=store,
            home=Path(home).expanduser() if home else None,
            session_ttl_hours=ttl,
            table_name=table,
            dynamodb_endpoint=env.get("TASKCHAIN_DYNAMODB_ENDPOINT", "").strip() or None,
            idempotency_table_name=env.get("TASKCHAIN_IDEMPOTENCY_TABLE_NAME", "").strip() or None,
            ots_endpoint=endpoint,
            ots_instance=instance,
        )


def _seconds(env: Mapping[str, str], variable: str, default: float, most: float) -> float:
    """A positive number of seconds, at most ``most``, from ``variable`` (``default`` if unset)."""
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(variable, f"{raw!r} 不是数字", f"{raw!r} is not a number") from None
    if not 0 < value <= most:
        raise ConfigError(
            variable, f"须在 0 到 {most:g} 秒之间", f"must be between 0 and {most:g} seconds"
        )
    return value
