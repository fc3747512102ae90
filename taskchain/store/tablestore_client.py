"""The Tablestore client taskchain builds (bounded timeouts and retries) and its failures."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from taskchain.errors import StoreError

if TYPE_CHECKING:
    from tablestore import OTSClient, OTSServiceError

# The SDK (and urllib3 with it) is imported by the functions that build a client or translate its
# errors, on the first request that uses the store: importing it takes longer than the rest of a
# cold start.

# A function answers within its timeout (60 s on FC): one request is at most 3 attempts (the
# first and MAX_RETRIES retries, which the SDK makes only for throttling, and for reads also on
# server errors) of at most 2 s connect + 5 s read, with backoff capped at 1 s. urllib3 itself
# retries a refused connection up to 3 times; it never retries a POST that timed out reading.
MAX_RETRIES = 2
MAX_RETRY_DELAY = 1.0
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0

# A failed row condition: OTSServiceError(403, "OTSConditionCheckFail", "Condition check
# failed."), as the SDK's own tests assert (aliyun/aliyun-tablestore-python-sdk
# tests/filter_and_condition_update_unitttest.py, tests/row_op_test.py).
CONDITION_FAILED = "OTSConditionCheckFail"

# Seconds a caller should wait before retrying, by Tablestore error code; 5 for anything else.
RETRY_AFTER: Mapping[str, float] = {
    "OTSServerBusy": 2,
    "OTSNotEnoughCapacityUnit": 2,
    "OTSOperationThrottled": 2,
    "OTSQuotaExhausted": 2,
    "OTSRowOperationConflict": 1,
    "OTSPartitionUnavailable": 1,
    "OTSServerUnavailable": 1,
    "OTSTimeout": 1,
    "OTSInternalServerError": 1,
}
# Errors that mean this module sent a malformed request: a bug to surface, not an outage.
BUG_CODES = frozenset({"OTSParameterInvalid", "OTSInvalidPK", "OTSMetaNotMatch"})


def env_credentials() -> tuple[str | None, str | None, str | None]:
    """The role's STS credentials as Function Compute sets them (the FC shell refreshes them from
    each invocation's ``context.credentials``)."""
    env = os.environ
    return (
        env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        env.get("ALIBABA_CLOUD_SECURITY_TOKEN"),
    )


def new_client(
    endpoint: str | None,
    instance_name: str | None,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    security_token: str | None = None,
) -> OTSClient:
    """An OTSClient with bounded timeouts and retries.

    Credentials default to ``ALIBABA_CLOUD_ACCESS_KEY_ID``, ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``
    and ``ALIBABA_CLOUD_SECURITY_TOKEN``, which Function Compute sets from the function's role.

    Raises
    ------
    StoreError
        No endpoint, instance or credentials: the SDK refuses to build a client.
    """
    import urllib3
    from tablestore import OTSClient, OTSClientError
    from tablestore.retry import DefaultRetryPolicy

    env = os.environ
    policy = DefaultRetryPolicy()
    # The default policy retries throttling 20 times with waits of up to 3 s: longer than a
    # function may take. The same policy, fewer and shorter retries. It never retries a write
    # on a timeout or a 5xx (the write may have landed); those become StoreError.
    policy.max_retry_times = MAX_RETRIES
    policy.max_retry_delay = MAX_RETRY_DELAY
    try:
        return OTSClient(
            endpoint,
            access_key_id or env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"),
            access_key_secret or env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            instance_name,
            sts_token=security_token or env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None,
            # The SDK hands socket_timeout to urllib3's PoolManager, which takes a Timeout.
            socket_timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            retry_policy=policy,
        )
    except OTSClientError as exc:
        raise unavailable("OTSClientError") from exc


@contextmanager
def translated() -> Iterator[None]:
    """Turn Tablestore and connection failures into :class:`StoreError`; let bugs through.

    Callers that expect ``OTSConditionCheckFail`` catch it inside this block.
    """
    import urllib3
    from tablestore import OTSClientError, OTSServiceError

    try:
        yield
    except OTSServiceError as exc:
        code = str(exc.get_error_code())
        if code in BUG_CODES:
            raise
        # Throttling, 5xx, OTSTimeout, OTSAuthFailed, OTSObjectNotExist (no such table)...
        raise unavailable(code) from exc
    except OTSClientError as exc:
        if exc.get_http_status() is None:
            raise  # a request the SDK refused to encode: a bug in the caller
        # An HTTP answer that is not Tablestore's (a proxy's 502, a bad signature...).
        raise unavailable(f"HTTP {exc.get_http_status()}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # The SDK lets urllib3's errors through: MaxRetryError (refused, DNS), ReadTimeoutError
        # (a hung endpoint), ProtocolError (connection reset)...
        raise unavailable(type(exc).__name__) from exc


def is_condition_failure(exc: OTSServiceError) -> bool:
    """Whether a Tablestore error is a failed row or column condition."""
    return bool(exc.get_error_code() == CONDITION_FAILED)


def unavailable(reason: str) -> StoreError:
    """The StoreError for a Tablestore failure, naming the error code but not its text."""
    return StoreError(
        "会话存储暂时不可用（表格存储），请稍后重试",
        "the session store (Tablestore) is unavailable; retry later",
        details={
            "backend": "tablestore",
            "reason": reason,
            "retry_after": RETRY_AFTER.get(reason, 5),
        },
    )


__all__ = [
    "CONDITION_FAILED",
    "CONNECT_TIMEOUT",
    "MAX_RETRIES",
    "READ_TIMEOUT",
    "is_condition_failure",
    "new_client",
    "translated",
    "unavailable",
]


class Clients:
    """One Tablestore client, built on first use and again when the role's STS keys rotate.

    Explicit keys are used as given; otherwise the ``ALIBABA_CLOUD_*`` variables, which the FC
    shell refreshes from each invocation's ``context.credentials``. An injected client (tests,
    callers with their own) is used as it is.
    """

    def __init__(
        self,
        client: OTSClient | None,
        endpoint: str | None,
        instance_name: str | None,
        credentials: tuple[str | None, str | None, str | None],
    ) -> None:
        self._client = client
        self._injected = client is not None
        self._where = (endpoint, instance_name)
        self._credentials = credentials
        self._built_with: tuple[str | None, ...] = ()
        self._lock = threading.Lock()

    def get(self) -> OTSClient:
        """The client for the current keys."""
        if self._injected:
            assert self._client is not None
            return self._client
        keys = self._credentials if any(self._credentials) else env_credentials()
        if self._client is None or keys != self._built_with:
            with self._lock:
                if self._client is None or keys != self._built_with:
                    # Looked up on the module so that tests may stand a recorder in for it.
                    self._client = sys.modules[__name__].new_client(*self._where, *keys)
                    self._built_with = keys
        return self._client


def column_condition(
    name: str, value: Any, comparator: int, *, pass_if_missing: bool = False
) -> Any:
    """A condition on one column's latest value (the SDK's ``SingleColumnCondition``)."""
    from tablestore import SingleColumnCondition

    return SingleColumnCondition(name, value, comparator, pass_if_missing=pass_if_missing)
