"""Idempotency records on DynamoDB: Powertools' own layer, on a client built the store's way."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer


def dynamodb_layer(table: str, endpoint: str | None) -> BasePersistenceLayer:
    """Powertools' DynamoDB persistence layer on a client with botocore's standard retries."""
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, config=Config(retries={"mode": "standard"})
    )
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
