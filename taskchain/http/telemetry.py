"""Powertools Logger (JSON, correlation id) and Metrics (CloudWatch EMF) for every entrypoint."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "taskchain"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Taskchain"

# Never log_event=True: events carry tokens in headers and whole step outputs in bodies.
logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the request's count metric ``name``."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def run_duration(milliseconds: float) -> None:
    """Record how long a one-shot run took."""
    metrics.add_metric(name="RunDuration", unit=MetricUnit.Milliseconds, value=milliseconds)


def error(code: str) -> None:
    """Count an error by its code.

    The ``error_code`` dimension must not reach the request's other metrics (EMF dimensions
    apply to every metric of a blob), so this one is flushed on its own.
    """
    with single_metric(
        name="Errors",
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="error_code", value=code)


def outcome(
    operation: str,
    *,
    accepted: bool | None = None,
    status: str | None = None,
    success: bool = False,
) -> None:
    """Count what a successful use case did: a session started, a step accepted or rejected,
    a chain that ran to its end (gaps and all, as a one-shot run's ``success`` counts it)."""
    if operation == "start":
        count("SessionsStarted")
    elif operation == "submit":
        count("StepsAccepted" if accepted else "StepsRejected")
    if success or status in ("completed", "completed_with_gaps"):
        count("ChainsCompleted")


def bind(**keys: str | None) -> None:
    """Append known keys (``session_id``, ``tenant``) to every later log line of this request."""
    logger.append_keys(**{k: v for k, v in keys.items() if v})
