"""``Idempotency-Key`` on POST routes, over Powertools' idempotency utility.

Powertools' ``idempotency`` package imports its DynamoDB layer, hence boto3, on import; every
import of it here is deferred to the first request that carries the header, so the local stores
start without boto3.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response

from taskchain.config import ConfigError, Settings
from taskchain.errors import StoreError, invalid_field
from taskchain.http.errors import IdempotencyInProgressError, IdempotencyKeyReusedError
from taskchain.http.routing import to_json

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
EXPIRES_AFTER_SECONDS = 24 * 3600
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, like Stripe's keys

PersistenceFactory = Callable[[], "BasePersistenceLayer"]


def persistence_for(settings: Settings) -> PersistenceFactory:
    """How to build the idempotency store for ``settings`` (checked now, built on first use).

    DynamoDB sessions get the DynamoDB table (shared by every Lambda instance), Tablestore
    sessions the Tablestore table (shared by every FC instance); SQLite sessions a file next to
    ``sessions.db``; the memory store an in-memory database.

    Raises
    ------
    ConfigError
        ``TASKCHAIN_IDEMPOTENCY_TABLE_NAME`` is missing with the DynamoDB or Tablestore store.
    """
    if settings.store in ("dynamodb", "tablestore"):
        table = settings.idempotency_table_name
        if not table:
            raise ConfigError(
                "TASKCHAIN_IDEMPOTENCY_TABLE_NAME",
                f"TASKCHAIN_STORE 为 {settings.store} 时必须设置",
                f"required when TASKCHAIN_STORE is {settings.store}",
            )
        if settings.store == "tablestore":
            endpoint, instance = settings.ots_endpoint, settings.ots_instance

            def tablestore() -> BasePersistenceLayer:
                from taskchain.store.idempotency_tablestore import TablestorePersistenceLayer

                return TablestorePersistenceLayer(table, endpoint=endpoint, instance_name=instance)

            return tablestore
        endpoint = settings.dynamodb_endpoint

        def dynamodb() -> BasePersistenceLayer:
            from taskchain.store.idempotency_dynamodb import dynamodb_layer

            return dynamodb_layer(table, endpoint)

        return dynamodb
    if settings.store == "sqlite":
        from taskchain.store.sqlite import default_home

        path = str((settings.home or default_home()) / "idempotency.db")
    else:
        path = ":memory:"

    def sqlite_layer() -> BasePersistenceLayer:
        from taskchain.store.idempotency_sqlite import SqlitePersistenceLayer

        return SqlitePersistenceLayer(path)

    return sqlite_layer


class Idempotency:
    """The POST middleware: same key and body replay the stored response; nothing runs twice.

    The key Powertools hashes is ``[tenant, route, Idempotency-Key]``, so two tenants (or two
    routes) never share a record; the body is the validated payload, so a reused key with
    another body is refused. Only successful responses are kept: a request that raised can be
    retried with the same key.

    Parameters
    ----------
    persistence
        Builds the Powertools persistence layer (once, on the first keyed request).
    """

    def __init__(
        self, persistence: PersistenceFactory, *, expires_after_seconds: int = EXPIRES_AFTER_SECONDS
    ) -> None:
        self._factory = persistence
        self._expires = expires_after_seconds
        self._layer: BasePersistenceLayer | None = None
        self._config: IdempotencyConfig | None = None

    @property
    def persistence(self) -> BasePersistenceLayer:
        """The persistence layer, built on first use."""
        if self._layer is None:
            self._layer = self._factory()
        return self._layer

    def middleware(
        self, app: LambdaFunctionUrlResolver, next_middleware: NextMiddleware
    ) -> Response[Any]:
        """Run the route idempotently when an authenticated POST carries ``Idempotency-Key``."""
        event = app.current_event
        key = event.headers.get(HEADER)
        tenant = app.context.get("tenant")  # none on the public paths, which take no POST
        if event.http_method.upper() != "POST" or key is None or tenant is None:
            return next_middleware(app)
        key = key.strip()
        if not _KEY.match(key):
            raise invalid_field(
                HEADER,
                "必须是 1 到 255 个可见 ASCII 字符",
                "must be 1 to 255 visible ASCII characters",
            )
        request = {
            "tenant": tenant,
            "route": f"POST {event.path}",
            "key": key,
            "body": event.json_body,
        }
        return self._run(request, lambda: next_middleware(app), app.lambda_context)

    def _run(
        self, request: dict[str, Any], call: Callable[[], Response[Any]], context: Any
    ) -> Response[Any]:
        """``call`` once per key; later calls replay what it answered."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        config = self._configured()
        # The in-progress record expires with this invocation's timeout, so a retry after a
        # killed invocation is not locked out until the record's own expiry.
        config.register_lambda_context(context)
        fresh: list[Response[Any]] = []

        def respond(request: dict[str, Any]) -> dict[str, Any]:
            response = call()
            # Serialised once, here, so the first answer and every replay are the same bytes.
            if not isinstance(response.body, str):
                response.body = to_json(response.body)
            fresh.append(response)
            return {"status_code": response.status_code, "body": response.body}

        run = idempotent_function(
            respond,
            data_keyword_argument="request",
            persistence_store=self.persistence,
            config=config,
            key_prefix="taskchain",
        )
        try:
            stored = run(request=request)
        except IdempotencyValidationError:
            raise IdempotencyKeyReusedError() from None
        except IdempotencyAlreadyInProgressError:
            raise IdempotencyInProgressError() from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            raise StoreError(
                "幂等记录暂时不可用，请稍后用同一个 Idempotency-Key 重试",
                "idempotency records are unavailable; retry shortly with the same Idempotency-Key",
                details={"retry_after": 1},
            ) from exc
        if fresh:
            return fresh[0]
        return Response(
            status_code=int(stored["status_code"]),
            content_type="application/json",
            body=stored["body"],
            headers={REPLAYED_HEADER: "true"},
        )

    def _configured(self) -> IdempotencyConfig:
        """One Powertools config for every keyed request of this process."""
        if self._config is None:
            from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

            self._config = IdempotencyConfig(
                event_key_jmespath="[tenant, route, key]",
                payload_validation_jmespath="body",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=self._expires,
                hash_function="sha256",
            )
        return self._config
