"""The SAM template lints, transforms offline, and agrees with what the code expects."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from taskchain.config import VARIABLES

ROOT = Path(__file__).resolve().parents[2]


class _NoManagedPolicies:
    """The template uses inline statements only, so no managed policy needs resolving."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any], monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    packaged = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    # `sam package` replaces the local CodeUri with an S3 location before the transform runs.
    packaged["Resources"]["TaskchainFunction"]["Properties"]["CodeUri"] = (
        "s3://bucket/taskchain.zip"
    )
    return transform(packaged, {}, _NoManagedPolicies())


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_cfn_lint_reports_nothing() -> None:
    # GIVEN the template WHEN cfn-lint checks it THEN it finds no error or warning
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_transform_produces_function_url_without_aws_auth(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    url = resources["TaskchainFunctionUrl"]["Properties"]
    assert url["AuthType"] == "NONE"  # the app checks service tokens: Coze cannot sign requests
    function = resources["TaskchainFunction"]["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "handlers.aws_lambda.handler"


def test_handler_path_exists() -> None:
    assert (ROOT / "handlers" / "aws_lambda.py").is_file()


def test_function_environment_uses_only_variables_the_code_reads(
    transformed: dict[str, Any],
) -> None:
    env = transformed["Resources"]["TaskchainFunction"]["Properties"]["Environment"]["Variables"]
    ours = {name for name in env if name.startswith("TASKCHAIN_")}
    assert ours <= set(VARIABLES), ours - set(VARIABLES)
    assert env["TASKCHAIN_STORE"] == "dynamodb"
    assert env["TASKCHAIN_TABLE_NAME"] == {"Ref": "SessionsTable"}
    assert env["TASKCHAIN_IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}


def test_defaults_match_the_documented_limits(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["FunctionMemorySize"]["Default"] == 256
    assert params["FunctionTimeout"]["Default"] == 30
    assert params["SessionTtlHours"]["Default"] == 168


def test_role_reaches_exactly_the_two_tables_and_the_token_parameter(
    transformed: dict[str, Any],
) -> None:
    role = transformed["Resources"]["TaskchainFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    for statement in statements:
        assert "*" not in str(statement["Action"]), statement
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for resource in resources:
            text = str(resource)
            assert any(
                name in text
                for name in ("SessionsTable", "IdempotencyTable", "ApiTokensParameterName")
            ), text


def test_tables_are_retained_encrypted_and_expire_items(template: dict[str, Any]) -> None:
    for name in ("SessionsTable", "IdempotencyTable"):
        table = template["Resources"][name]
        assert table["DeletionPolicy"] == "Retain"
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["TimeToLiveSpecification"]["Enabled"] is True
    sessions = template["Resources"]["SessionsTable"]["Properties"]
    assert sessions["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_requirements_txt_matches_pyproject_runtime_dependencies() -> None:
    # sam build installs requirements.txt; it must carry the same runtime dependencies as
    # pyproject.toml (dependencies + the aws extra), minus boto3, which the Lambda runtime has.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    expected = {
        _normalize(dep)
        for dep in [*project["dependencies"], *project["optional-dependencies"]["aws"]]
        if not dep.startswith("boto3")
    }
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    actual = {_normalize(line) for line in lines if line.strip() and not line.startswith("#")}
    assert actual == expected


def _normalize(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()
