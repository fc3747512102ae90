"""Idempotency records on DynamoDB: Powertools' own layer, on a client built the store's way."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer


def dynamodb_layer(table: str, endpoint: str | None) -> BasePersistenceLayer:
    """Powertools' DynamoDB persistence layer on a client with the session store's bounds.

    The same connect and read timeouts and retry budget as the session store
    (:func:`taskchain.store.aws_config.client_config`), so a hung DynamoDB fails a keyed request in
    bounded time (``STORE_UNAVAILABLE``) instead of holding it until Lambda kills it.
    """
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from taskchain.store.aws_config import client_config

    # A session of our own: boto3's default session is not thread-safe.
    client = boto3.session.Session().client(
        "dynamodb", endpoint_url=endpoint, config=client_config()
    )
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
