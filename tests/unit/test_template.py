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
FUNCTIONS = ("TaskchainFunction", "TaskchainRunsFunction")
# What `!Ref TaskchainRunsFunction.Alias` becomes: the alias AutoPublishAlias creates.
RUNS_ALIAS = {"Ref": "TaskchainRunsFunctionAliaslive"}


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
    for name in FUNCTIONS:
        packaged["Resources"][name]["Properties"]["CodeUri"] = "s3://bucket/taskchain.zip"
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
    assert (ROOT / "handlers" / "aws_durable.py").is_file()


def test_function_environment_uses_only_variables_the_code_reads(
    transformed: dict[str, Any],
) -> None:
    for name in FUNCTIONS:
        env = transformed["Resources"][name]["Properties"]["Environment"]["Variables"]
        ours = {name for name in env if name.startswith("TASKCHAIN_")}
        assert ours <= set(VARIABLES), ours - set(VARIABLES)
        assert env["TASKCHAIN_STORE"] == "dynamodb"
        assert env["TASKCHAIN_TABLE_NAME"] == {"Ref": "SessionsTable"}
    api = transformed["Resources"]["TaskchainFunction"]["Properties"]["Environment"]["Variables"]
    assert api["TASKCHAIN_IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}
    # The API hands runs to the durable function by its alias: Lambda refuses an unqualified ARN.
    assert api["TASKCHAIN_RUNS_FUNCTION"] == RUNS_ALIAS


def test_the_runs_function_is_durable_behind_an_alias(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    function = resources["TaskchainRunsFunction"]["Properties"]
    assert function["Handler"] == "handlers.aws_durable.handler"
    assert function["Runtime"] == "python3.13"  # durable functions run on python3.13 or 3.14
    assert function["Timeout"] == 900
    assert function["DurableConfig"] == {
        "ExecutionTimeout": {"Ref": "RunTimeout"},
        "RetentionPeriodInDays": {"Ref": "RunHistoryDays"},
    }
    alias = resources["TaskchainRunsFunctionAliaslive"]
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"]["Name"] == "live"
    # SAM gives a durable function's role the checkpoint permissions the Lambda docs name
    # (lambda:CheckpointDurableExecution, lambda:GetDurableExecutionState) by this policy.
    role = resources["TaskchainRunsFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy"
    ]
    api_role = resources["TaskchainFunctionRole"]["Properties"]
    assert "Durable" not in str(api_role["ManagedPolicyArns"])


LLM_KEY = {
    "Sid": "LlmApiKey",
    "Effect": "Allow",
    "Action": "ssm:GetParameter",
    "Resource": {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
        "${LlmApiKeyParameterName}"
    },
}


def test_the_runs_function_reads_and_saves_sessions_and_the_model_key_only(
    transformed: dict[str, Any],
) -> None:
    role = transformed["Resources"]["TaskchainRunsFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements == [
        LLM_KEY,
        {
            "Sid": "SessionsTable",
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:PutItem"],
            "Resource": {"Fn::GetAtt": ["SessionsTable", "Arn"]},
        },
    ]


def test_runs_defaults(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["RunTimeout"]["Default"] == 86400
    assert params["RunHistoryDays"]["Default"] == 7


def test_defaults_match_the_documented_limits(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["FunctionMemorySize"]["Default"] == 256
    assert params["FunctionTimeout"]["Default"] == 30
    assert params["SessionTtlHours"]["Default"] == 168


def test_role_reaches_exactly_the_tables_the_two_parameters_and_the_runs_alias(
    transformed: dict[str, Any],
) -> None:
    role = transformed["Resources"]["TaskchainFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if s["Sid"] == "StartRuns"]
    assert invoke == [
        {
            "Sid": "StartRuns",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": RUNS_ALIAS,
        }
    ]
    statements = [s for s in statements if s["Sid"] != "StartRuns"]
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
                for name in (
                    "SessionsTable",
                    "IdempotencyTable",
                    "ApiTokensParameterName",
                    "LlmApiKeyParameterName",
                )
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
    assert _requirements("requirements.txt") == expected
    # The runs function's package: the same plus the durable execution SDK (the durable extra).
    durable = {_normalize(dep) for dep in project["optional-dependencies"]["durable"]}
    assert durable == {"aws-durable-execution-sdk-python==3.0.0"}
    assert _requirements("requirements-runs.txt") == expected | durable


def _requirements(name: str) -> set[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return {_normalize(line) for line in lines if line.strip() and not line.startswith("#")}


def _normalize(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def test_both_functions_get_the_same_model_settings(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    api = resources["TaskchainFunction"]["Properties"]["Environment"]["Variables"]
    runs = resources["TaskchainRunsFunction"]["Properties"]["Environment"]["Variables"]
    llm = {k: v for k, v in api.items() if k.startswith("TASKCHAIN_LLM_")}
    assert set(llm) == {
        "TASKCHAIN_LLM_PROVIDER",
        "TASKCHAIN_LLM_MODEL",
        "TASKCHAIN_LLM_BASE_URL",
        "TASKCHAIN_LLM_API_KEY_PARAMETER",
    }
    assert {k: v for k, v in runs.items() if k.startswith("TASKCHAIN_LLM_")} == llm
    assert template["Parameters"]["LlmProvider"]["Default"] == ""  # no model unless chosen
