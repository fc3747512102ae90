"""DynamoDB failures as taskchain sees them: outages become StoreError, bugs surface."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from taskchain.errors import StoreError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

# Seconds a caller should wait before retrying, by AWS error code; 5 for anything else.
RETRY_AFTER: Mapping[str, float] = {
    "ProvisionedThroughputExceededException": 2,
    "ProvisionedThroughputExceeded": 2,  # as a transaction cancellation reason
    "ThrottlingException": 2,
    "ThrottlingError": 2,  # as a transaction cancellation reason
    "RequestLimitExceeded": 2,
    "InternalServerError": 1,
    "ServiceUnavailable": 1,
    "TransactionConflict": 1,
    "TransactionConflictException": 1,
    "TransactionInProgressException": 1,
}
# Errors that mean this module sent a malformed request: a bug to surface, not an outage.
BUG_CODES = frozenset({"ValidationException", "SerializationException"})


@contextmanager
def translated() -> Iterator[None]:
    """Turn AWS and connection failures into :class:`StoreError`; let bugs through."""
    # botocore is imported here, with the client, never at cold start.
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    try:
        yield
    except ClientError as exc:
        code = code_of(exc)
        if code in BUG_CODES:
            raise
        raise unavailable(code) from exc
    except ParamValidationError:
        raise  # a request this module built wrong
    except BotoCoreError as exc:
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, NoCredentialsError...
        raise unavailable(type(exc).__name__) from exc


def code_of(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def unavailable(reason: str) -> StoreError:
    """The StoreError for a DynamoDB failure, naming the AWS error code but not its text."""
    return StoreError(
        "会话存储暂时不可用（DynamoDB），请稍后重试",
        "the session store (DynamoDB) is unavailable; retry later",
        details={
            "backend": "dynamodb",
            "reason": reason,
            "retry_after": RETRY_AFTER.get(reason, 5),
        },
    )
