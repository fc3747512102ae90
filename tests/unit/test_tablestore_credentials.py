"""STS credentials rotate: the FC shell passes each invocation's keys on, the clients follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from handlers import aliyun_fc
from taskchain.store import tablestore_client
from taskchain.store.tablestore import TablestoreStore


@dataclass
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str


@dataclass
class Context:
    credentials: Credentials
    request_id: str = "r-1"


@dataclass
class Builds:
    """A stand-in for the SDK client factory: records the credentials of every client built."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def __call__(self, *args: Any) -> object:
        self.calls.append(args[2:])
        return object()


def test_the_fc_shell_exports_each_invocations_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in aliyun_fc._CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    seen: list[dict[str, str]] = []

    def inner(event: Any, context: Any) -> Any:
        import os

        seen.append({n: os.environ[n] for n in aliyun_fc._CREDENTIALS})
        return {"ok": True}

    aliyun_fc.serve(inner, b"{}", Context(Credentials("id-1", "secret-1", "token-1")))
    aliyun_fc.serve(inner, b"{}", Context(Credentials("id-2", "secret-2", "token-2")))
    assert [s["ALIBABA_CLOUD_SECURITY_TOKEN"] for s in seen] == ["token-1", "token-2"]


def test_the_store_builds_a_new_client_when_the_keys_rotate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds = Builds()
    monkeypatch.setattr(tablestore_client, "new_client", builds)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id-1")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-1")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "token-1")
    store = TablestoreStore(
        "t", endpoint="https://i.cn-hangzhou.ots.aliyuncs.com", instance_name="i"
    )

    first = store._ots()
    assert store._ots() is first  # same keys: the same client
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "token-2")
    assert store._ots() is not first
    assert builds.calls == [("id-1", "secret-1", "token-1"), ("id-1", "secret-1", "token-2")]
