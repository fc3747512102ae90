"""The configuration of every AWS client taskchain builds: bounded timeouts and retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

# The bounds of every AWS client taskchain builds (the session store's, the idempotency records',
# SSM's for the service tokens), read by :func:`client_config` when each client is created, so a
# hung AWS endpoint costs a known time.
#
# The budget: template.yaml's FunctionTimeout gives an invocation 30 s by default. One AWS call is
# at most MAX_ATTEMPTS attempts (the first and two retries) of at most CONNECT_TIMEOUT +
# READ_TIMEOUT each, plus botocore's standard-mode backoff before each retry (at most 2^i s,
# i = 0, 1, at its throttling scale; recent botocore waits only 25 ms x 2^i after a timeout):
#     3 x (1 s + 2 s) + (1 s + 2 s) = 12 s per call  (call_budget())
# and about 6 s against an endpoint that accepts and never answers (the connect succeeds, each
# read times out). A request stops at its first failed call; the most that can follow it is
# Powertools' clean-up of the request's in-progress idempotency record (one more call), so even a
# store that freezes mid-request answers 503 within 2 x 12 = 24 s, inside Lambda's 30 s. At cold
# start the SSM read (one call, <= 12 s) fails the init, which Lambda repeats on the next
# invocation. DynamoDB answers in milliseconds: 2 s of read timeout is far above a healthy
# transaction, and a timed-out attempt is retried.
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
MAX_POOL_CONNECTIONS = 32


def client_config() -> Config:
    """The botocore configuration of every AWS client taskchain builds: bounded timeouts and
    retries (see the budget above ``MAX_ATTEMPTS``)."""
    from botocore.config import Config

    return Config(
        # total_max_attempts counts the first attempt; botocore's max_attempts would count only
        # the retries.
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def call_budget() -> float:
    """The most seconds one call of a :func:`client_config` client can take when every attempt
    times out and every backoff is its longest (at the throttling scale, the larger one)."""
    backoff = sum(min(2.0**i, 20.0) for i in range(MAX_ATTEMPTS - 1))
    return MAX_ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + backoff


def aws_client(service: str) -> Any:
    """A boto3 client of ``service`` with :func:`client_config` (boto3 is imported here, on the
    first client: never at cold start)."""
    import boto3

    make: Any = boto3.client  # typed per service name; ``service`` is any of them
    return make(service, config=client_config())


def call_errors() -> tuple[tuple[type[Exception], ...], type[Exception]]:
    """The errors of an AWS call that failed (unreachable, refused), and botocore's error for a
    request built wrong (a bug to surface, never an outage)."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    return (BotoCoreError, ClientError), ParamValidationError
