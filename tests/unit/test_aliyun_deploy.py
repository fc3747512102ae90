"""s.yaml, its ROS template and the FC package agree with what the code expects."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskchain.config import VARIABLES, Settings
from taskchain.store.idempotency_tablestore import KEY
from taskchain.store.tablestore_layout import PRIMARY_KEY_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s_yaml() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "s.yaml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def function(s_yaml: dict[str, Any]) -> dict[str, Any]:
    resource = s_yaml["resources"]["taskchain"]
    assert resource["component"] == "fc3"
    return dict(resource["props"])


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    # ROS short forms (Fn::GetAtt lists, Fn::Sub strings) are plain YAML here.
    return dict(yaml.safe_load((ROOT / "infra" / "aliyun.yaml").read_text(encoding="utf-8")))


def test_the_handler_is_the_fc_shell(function: dict[str, Any]) -> None:
    module, _, name = function["handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert function["runtime"] in ("python3.12",)  # taskchain needs Python >= 3.11


def test_one_request_per_instance_so_no_request_is_served_as_another_tenant(
    function: dict[str, Any],
) -> None:
    # The resolver holds the caller's tenant per request; concurrent requests on one instance
    # were seen answered as the other tenant (404) when threads switched mid-request.
    assert function["instanceConcurrency"] == 1


def test_the_http_trigger_is_anonymous_so_the_app_checks_tokens(function: dict[str, Any]) -> None:
    (trigger,) = function["triggers"]
    assert trigger["triggerType"] == "http"
    assert trigger["triggerConfig"]["authType"] == "anonymous"
    assert {"GET", "POST", "DELETE"} <= set(trigger["triggerConfig"]["methods"])


def test_the_environment_names_only_known_variables_and_configures_tablestore(
    function: dict[str, Any],
) -> None:
    env = function["environmentVariables"]
    assert set(env) <= set(VARIABLES)
    # ${...} are filled in by `s deploy`: stand-ins show the result is a usable configuration.
    filled = {k: re.sub(r"\$\{[^}]*\}", "x", str(v)) for k, v in env.items()}
    settings = Settings.from_env(filled)
    assert settings.store == "tablestore"
    assert settings.idempotency_table_name
    assert "sha256" not in str(env["TASKCHAIN_API_TOKENS"])  # digests come from the shell


def test_the_tables_have_the_keys_the_stores_write(infra: dict[str, Any]) -> None:
    resources = infra["Resources"]
    sessions = [(k["Name"], k["Type"]) for k in resources["Sessions"]["Properties"]["PrimaryKey"]]
    assert tuple(sessions) == PRIMARY_KEY_SCHEMA
    (key,) = resources["Idempotency"]["Properties"]["PrimaryKey"]
    assert (key["Name"], key["Type"]) == (KEY, "STRING")
    # Tablestore's TTL is at least a day; the idempotency records live an hour (expired on read).
    assert resources["Idempotency"]["Properties"]["TimeToLive"] >= 86400


def test_the_role_reaches_only_the_two_tables(infra: dict[str, Any]) -> None:
    (policy,) = infra["Resources"]["Role"]["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert all(action.startswith("ots:") for action in statement["Action"])
    resources = [r["Fn::Sub"] for r in statement["Resource"]]
    assert resources == [
        "acs:ots:${ALIYUN::Region}:*:instance/${InstanceName}/table/${TableName}",
        "acs:ots:${ALIYUN::Region}:*:instance/${InstanceName}/table/${IdempotencyTableName}",
    ]


def test_the_fc_package_installs_what_the_lambda_package_does_and_tablestore() -> None:
    def names(path: Path) -> set[str]:
        return {
            re.split(r"[<>=\[]", line.strip())[0]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }

    assert names(ROOT / "requirements.txt") | {"tablestore", "boto3"} == names(
        ROOT / "requirements-fc.txt"
    )
