"""The Coze plugin document: fresh, within Coze's import rules, valid OpenAPI 3.0, true to the routes."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel, Field, create_model

import taskchain
from taskchain.bootstrap import make_handler
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event
from tests.factories import bad_output, good_output
from tools.coze_spec import (
    PLACEHOLDER_SERVER_URL,
    SCHEMA_KEYWORDS,
    SchemaError,
    app_openapi,
    build_document,
    main,
    openapi_schema,
    render,
    server_url,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "coze" / "openapi.yaml"
TOKEN = "test-token-coze"
ENV = {"TASKCHAIN_STORE": "memory", "TASKCHAIN_API_TOKENS": f"acme=sha256:{token_digest(TOKEN)}"}
TARGET = "一家社区咖啡店是否应该推出会员订阅制"
CJK = re.compile(r"[\u4e00-\u9fff]")
OAS30_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
Json = dict[str, Any]


@pytest.fixture(scope="module")
def doc() -> Json:
    return build_document()


def operations(doc: Json) -> Iterator[tuple[str, str, Json]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


@dataclass(frozen=True)
class Operation:
    """One Coze tool, as the app's own routes declare it."""

    method: str
    path: str
    operation_id: str


# Read from the app's routes, not from the converter's output, so a tool the converter dropped
# would still be checked (and fail).
APP = app_openapi("X-Api-Key")
OPERATIONS = [
    Operation(method, path, op["operationId"])
    for path, item in APP["paths"].items()
    if path.startswith("/coze/")
    for method, op in item.items()
]


def schemas(node: Json, where: str) -> Iterator[tuple[str, Json]]:
    """Every schema under ``node`` (itself included), with a pointer for messages."""
    yield where, node
    for name, sub in node.get("properties", {}).items():
        yield from schemas(sub, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        yield from schemas(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schemas(node["additionalProperties"], f"{where}{{}}")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key, [])):
            yield from schemas(sub, f"{where}/{key}/{i}")


def request_schemas(doc: Json) -> Iterator[tuple[str, Json]]:
    for path, method, op in operations(doc):
        for param in op.get("parameters", []):
            yield from schemas(param["schema"], f"{method} {path} ?{param['name']}")
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            yield from schemas(body, f"{method} {path} body")


def response_schema(doc: Json, path: str, method: str) -> Json:
    schema: Json = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    return schema


def all_schemas(doc: Json) -> Iterator[tuple[str, Json]]:
    yield from request_schemas(doc)
    for path, method, _ in operations(doc):
        yield from schemas(response_schema(doc, path, method), f"{method} {path} 200")


# --- (a) the committed file is what the models generate ---------------------------------------


def test_committed_document_is_the_fresh_generation() -> None:
    # GIVEN the committed coze/openapi.yaml, whose server and token header a deployer may have set
    assert COMMITTED.exists(), "coze/openapi.yaml is missing: run `make coze-spec`"
    committed = COMMITTED.read_text(encoding="utf-8")
    settings = yaml.safe_load(committed)
    url = server_url(settings["servers"][0]["url"])
    header = settings["components"]["securitySchemes"]["serviceToken"]["name"]
    # THEN it is byte for byte what the generator makes from today's models with those settings
    assert committed == render(build_document(url, api_key_header=header)), (
        "coze/openapi.yaml is stale (the models or tools/coze_spec.py changed): "
        "run `make coze-spec` (add SERVER_URL=https://... to keep your server) and commit it"
    )


def test_yaml_reads_back_as_the_generated_data(doc: Json) -> None:
    # Catches YAML surprises (a bare "on", "no" or "3.0.1" read back as another type).
    assert yaml.safe_load(render(doc)) == doc


def test_cli_prints_the_document_for_a_deployed_url(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    assert main(["--server-url", "https://abc123.lambda-url.eu-west-1.on.aws/"]) == 0
    printed = yaml.safe_load(capsysbinary.readouterr().out.decode("utf-8"))
    # The trailing slash goes: Coze joins server URL and path as strings.
    assert printed["servers"] == [{"url": "https://abc123.lambda-url.eu-west-1.on.aws"}]
    assert printed["paths"] == build_document()["paths"]


def test_cli_writes_a_file_and_names_a_custom_token_header(tmp_path: Path) -> None:
    out = tmp_path / "openapi.yaml"
    assert main(["--api-key-header", "X-Taskchain-Key", "--output", str(out)]) == 0
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["components"]["securitySchemes"]["serviceToken"]["name"] == "X-Taskchain-Key"
    assert written["servers"] == [{"url": PLACEHOLDER_SERVER_URL}]


@pytest.mark.parametrize(
    "args",
    [
        ["--server-url", "https://127.0.0.1:8080"],  # Coze refuses IP addresses
        ["--server-url", "ftp://example.com"],
        ["--server-url", "example.com"],
        ["--server-url", "https://example.com/?x=1"],
        ["--api-key-header", "X Api Key"],
    ],
)
def test_cli_refuses_what_coze_would_refuse(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2


# --- (b) Coze's import rules -------------------------------------------------------------------


def test_version_info_and_server(doc: Json) -> None:
    assert doc["openapi"] == "3.0.1"
    info = doc["info"]
    assert info["title"].strip()
    assert info["version"] == taskchain.__version__
    assert CJK.search(info["description"]), "info.description is for a Chinese-speaking model"
    assert re.search(r"[A-Za-z][a-z]+(?: [a-z]+){3,}", info["description"]), "an English sentence"
    assert len(doc["servers"]) == 1
    url = urlsplit(doc["servers"][0]["url"])
    assert url.scheme == "https"
    assert url.hostname
    assert not url.path.endswith("/")
    with pytest.raises(ValueError, match="does not appear to be"):
        ipaddress.ip_address(url.hostname)


def test_every_path_shares_the_coze_prefix(doc: Json) -> None:
    # Coze refuses a batch of APIs without a common path prefix (docs.coze.cn/guides/import).
    assert doc["paths"]
    assert all(path.startswith("/coze/") for path in doc["paths"])


def test_operation_ids_are_unique_camel_case_ascii(doc: Json) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]{2,29}", i) for i in ids), ids


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_operation_follows_coze_rules(doc: Json, op: Operation) -> None:
    operation = doc["paths"][op.path][op.method]
    # Coze gives the model the summary as the tool's description: Chinese, and says when to call.
    assert CJK.search(operation["summary"])
    assert "调用" in operation["summary"]
    assert CJK.search(operation["description"])
    assert re.search(r"[A-Za-z]{4,}", operation["description"])
    for param in operation.get("parameters", []):
        assert param["in"] in ("query", "header"), "no path parameters at all"
        assert param["schema"]["type"] not in ("object", "array"), param["name"]
    if op.method == "post":
        content = operation["requestBody"]["content"]
        assert list(content) == ["application/json"]
        assert content["application/json"]["schema"]["type"] == "object"
    else:
        assert "requestBody" not in operation
    responses = operation["responses"]
    assert list(responses) == ["200"]
    assert list(responses["200"]["content"]) == ["application/json"]
    schema = responses["200"]["content"]["application/json"]["schema"]
    # Coze answers "{}" for a response schema without properties, and trims undeclared ones.
    assert schema["type"] == "object"
    assert "success" in schema["properties"]
    assert schema["required"] == ["success"]


def test_service_token_goes_in_the_api_key_header(doc: Json) -> None:
    scheme = doc["components"]["securitySchemes"]["serviceToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Api-Key")
    assert doc["security"] == [{"serviceToken": []}]


def bilingual(text: str) -> bool:
    """Chinese, with the English in full-width parentheses: ``任务类型（task type）``."""
    return bool(CJK.search(text) and re.search(r"（[^）]*[A-Za-z]{3,}", text))


def test_every_request_field_is_described_in_chinese_with_english(doc: Json) -> None:
    for path, _method, op in operations(doc):
        for param in op.get("parameters", []):
            text = param.get("description", "")
            assert bilingual(text), (path, param["name"])
    for where, schema in request_schemas(doc):
        for name, prop in schema.get("properties", {}).items():
            text = prop.get("description", "")
            assert bilingual(text), f"{where}.{name}"


def test_every_schema_has_a_type_coze_knows(doc: Json) -> None:
    # Coze turns request fields into tool parameters by type and refuses typeless ones.
    for where, schema in all_schemas(doc):
        assert schema.get("type") in OAS30_TYPES, where
        if schema["type"] == "array":
            assert isinstance(schema.get("items"), dict), where


# --- (c) valid OpenAPI 3.0 ---------------------------------------------------------------------

TOP_KEYS = {"openapi", "info", "servers", "paths", "components", "security", "tags", "externalDocs"}
OPERATION_KEYS = {"operationId", "summary", "description", "parameters", "requestBody", "responses",
                  "tags", "security", "deprecated", "servers", "callbacks", "externalDocs"}  # fmt: skip


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` value anywhere under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: Json, pointer: str) -> Any:
    """The target of a local ``$ref`` (``None`` when it does not resolve)."""
    if not pointer.startswith("#/"):
        return None
    node: Any = doc
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def test_document_is_valid_openapi_30(doc: Json) -> None:
    try:
        from openapi_spec_validator import validate  # not a dependency; used when present
    except ImportError:
        pass
    else:
        validate(doc)
    # Structural checks that hold either way.
    assert set(doc) <= TOP_KEYS
    for pointer in refs(doc):
        assert resolve(doc, pointer) is not None, f"unresolved $ref {pointer}"
    for path, method, op in operations(doc):
        assert method in {"get", "post", "put", "delete", "patch"}
        assert set(op) <= OPERATION_KEYS
        assert "{" not in path, "no path templates"
        assert all(
            set(p) <= {"name", "in", "required", "description", "schema"}
            for p in op.get("parameters", [])
        )
        assert all(r["description"] for r in op["responses"].values())
    for where, schema in all_schemas(doc):
        extra = {k for k in schema if k not in SCHEMA_KEYWORDS and not k.startswith("x-")}
        assert not extra, f"{where}: not OpenAPI 3.0 keywords: {extra}"
        assert all(
            isinstance(schema.get(k, False), bool)
            for k in ("nullable", "exclusiveMinimum", "exclusiveMaximum")
        )
        assert set(schema.get("required", [])) <= set(schema.get("properties", {})), where
        for value in [
            *schema.get("enum", []),
            *([schema["default"]] if "default" in schema else []),
        ]:
            assert not mismatches(value, {k: v for k, v in schema.items() if k != "enum"}), where


def test_converter_rewrites_json_schema_2020_into_openapi_30() -> None:
    class Inner(BaseModel):
        """A docstring that must not leak."""

        n: int

    class Sample(BaseModel):
        kind: Literal["only"]
        ratio: Annotated[float, Field(gt=0, lt=1)]
        inner: Inner | None = None
        free: dict[str, Any] = {}

    schema = openapi_schema(Sample, mode="validation")
    props = schema["properties"]
    assert props["kind"]["enum"] == ["only"]
    assert props["kind"]["type"] == "string"
    assert props["ratio"] == {
        "type": "number", "maximum": 1, "exclusiveMaximum": True, "minimum": 0, "exclusiveMinimum": True,
    }  # fmt: skip
    assert props["inner"] == {
        "type": "object", "nullable": True, "properties": {"n": {"type": "integer"}}, "required": ["n"],
    }  # fmt: skip
    assert props["free"] == {"type": "object", "additionalProperties": True}


class Tree(BaseModel):
    """A recursive model: no finite inlined form."""

    children: list[Tree] = []


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (create_model("Union", value=(int | str, ...)), "unions"),
        (create_model("Untyped", value=(Any, ...)), "needs a type"),
        (Tree, "recursive"),
    ],
)
def test_converter_refuses_what_coze_cannot_read(model: type[BaseModel], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        openapi_schema(model, mode="validation")


# --- (d) every operation exists and answers what the document says ---------------------------


class Coze:
    """Calls the handler the way a Coze plugin does: JSON body, token in X-Api-Key."""

    def __init__(self) -> None:
        self.handler = make_handler(dict(ENV))

    def call(
        self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = {"X-Api-Key": TOKEN, "X-AIPlugin-UID": "coze-user-1"}
        raw = self.handler(
            http_event(method.upper(), path, headers=headers, body=body, query=query),
            LocalContext(),
        )
        return raw["statusCode"], json.loads(raw["body"])

    def app_openapi(self) -> Json:
        status, body = self.call("get", "/openapi.json")
        assert status == 200
        return dict(body)


def mismatches(value: Any, schema: Json, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``, including keys Coze would trim because none declares them."""
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null but not nullable"]
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if not checks[schema["type"]](value):
        return [f"{where}: {type(value).__name__} is not {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    problems: list[str] = []
    if schema["type"] == "array":
        for i, item in enumerate(value):
            problems += mismatches(item, schema["items"], f"{where}[{i}]")
    elif schema["type"] == "object":
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                problems += mismatches(item, props[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                problems += mismatches(item, extra, f"{where}.{key}")
            elif extra is not True:
                problems.append(f"{where}.{key}: returned but not declared (Coze would drop it)")
        problems += [
            f"{where}.{k}: required but missing"
            for k in schema.get("required", [])
            if k not in value
        ]
    return problems


def example(schema: Json, known: Mapping[str, Any], name: str = "") -> Any:
    """A value for ``schema`` built from its required fields only; ``known`` fills named ones."""
    if name in known:
        return known[name]
    if "enum" in schema:
        return schema["enum"][0]
    if schema["type"] == "object":
        return {k: example(schema["properties"][k], known, k) for k in schema.get("required", [])}
    if schema["type"] == "array":
        return [example(schema["items"], known) for _ in range(schema.get("minItems", 0))]
    return {"string": "示例", "integer": schema.get("minimum", 1), "number": 1, "boolean": True}[
        schema["type"]
    ]


def success_required(op: Operation) -> list[str]:
    """What the route's answer always has when it succeeds (its model's required fields)."""
    route = APP["paths"][op.path][op.method]
    answer = route["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"][0]
    model = APP["components"]["schemas"][answer["$ref"].rsplit("/", 1)[-1]]
    return list(model.get("required", []))


def test_the_document_covers_exactly_the_apps_coze_routes(doc: Json) -> None:
    app = Coze().app_openapi()  # what the deployed function serves
    app_ops = {(p, m) for p, item in app["paths"].items() if p.startswith("/coze/") for m in item}
    assert {(path, method) for path, method, _ in operations(doc)} == app_ops
    for op in OPERATIONS:
        route = app["paths"][op.path][op.method]
        # The same tool name in both documents.
        assert doc["paths"][op.path][op.method]["operationId"] == route["operationId"]
        if op.method == "post":  # the fields of the model that validates the route's body
            ref = route["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            model = app["components"]["schemas"][ref.rsplit("/", 1)[-1]]
            ours = doc["paths"][op.path][op.method]["requestBody"]["content"]["application/json"]
            assert set(ours["schema"]["properties"]) == set(model["properties"])
        else:
            ours = {p["name"]: p["schema"] for p in doc["paths"][op.path][op.method]["parameters"]}
            theirs = {p["name"]: p["schema"] for p in route["parameters"]}
            assert set(ours) == set(theirs)
            for name, schema in ours.items():
                member = next(s for s in theirs[name]["anyOf"] if s != {"type": "null"})
                assert bounds(schema) == bounds(member), name


def bounds(schema: Json) -> Json:
    """What a query parameter's schema allows, without the documentation."""
    return {
        k: v for k, v in schema.items() if k in ("type", "maxLength", "minimum", "maximum", "enum")
    }


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_each_operation_answers_200_with_its_documented_shape(doc: Json, op: Operation) -> None:
    # GIVEN a session started through the documented startSession tool
    coze = Coze()
    start_op = doc["paths"]["/coze/sessions/start"]["post"]
    start_body = example(
        start_op["requestBody"]["content"]["application/json"]["schema"], {"target": TARGET}
    )
    status, started = coze.call("post", "/coze/sessions/start", start_body)
    assert status == 200
    assert started["success"], started
    ready = started["ready_steps"][0]
    # AND a run started through the documented startRun tool
    status, run = coze.call("post", "/coze/runs/start", start_body)
    assert (status, run["success"]) == (200, True), run
    known = {"session_id": started["session_id"], "step_id": ready["step_id"],
             "output": good_output(ready), "target": TARGET, "run_id": run["run_id"]}  # fmt: skip
    # WHEN the operation is called with only its documented required fields
    operation = doc["paths"][op.path][op.method]
    if op.method == "get":
        query = {
            p["name"]: str(example(p["schema"], known))
            for p in operation["parameters"]
            if p["required"]
        }
        status, body = coze.call(op.method, op.path, query=query)
    else:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        status, body = coze.call(op.method, op.path, example(schema, known))
    # THEN it answers 200 with a success body that the documented schema declares in full
    assert status == 200
    assert isinstance(body, dict)
    assert body["success"] is True, body
    declared = response_schema(doc, op.path, op.method)
    assert mismatches(body, declared) == []
    assert [k for k in success_required(op) if k not in body] == []


def test_a_whole_guided_session_matches_the_documented_shapes(doc: Json) -> None:
    coze = Coze()

    def call(path: str, body: Json) -> Json:
        status, answer = coze.call("post", path, body)
        assert status == 200
        assert mismatches(answer, response_schema(doc, path, "post")) == [], path
        return dict(answer)

    session = call("/coze/sessions/start", {"task_type": "research", "target": TARGET,
                                            "config": {"focus_areas": ["成本", "客户留存"]}})  # fmt: skip
    sid = session["session_id"]
    first = session["ready_steps"][0]
    rejected = call(
        "/coze/sessions/submit",
        {"session_id": sid, "step_id": first["step_id"], "output": bad_output()},
    )
    assert rejected["accepted"] is False
    assert any(not f["passed"] for f in rejected["feedback"])
    ready = session["ready_steps"]
    while ready:
        step = ready[0]
        verdict = call(
            "/coze/sessions/submit",
            {"session_id": sid, "step_id": step["step_id"], "output": good_output(step)},
        )
        assert verdict["accepted"], verdict["feedback"]
        ready = verdict["ready_steps"]
    assert call("/coze/sessions/status", {"session_id": sid})["status"] == "completed"
    assert "来自" in call("/coze/sessions/report", {"session_id": sid})["markdown"]
    report = call("/coze/sessions/report", {"session_id": sid, "format": "json"})
    assert report["detailed_results"]
    assert report["key_findings"]
    assert [s["session_id"] for s in call("/coze/sessions/list", {})["sessions"]] == [sid]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/coze/sessions/start", {"task_type": "analysis"}, "MISSING_REQUIRED_FIELD"),
        ("/coze/sessions/status", {"session_id": "nope"}, "SESSION_NOT_FOUND"),
        ("/coze/run", {"task_type": "astrology", "target": "x"}, "INVALID_TASK_TYPE"),
        ("/coze/sessions/report", {"session_id": "nope", "format": "pdf"}, "INVALID_FIELD"),
    ],
)
def test_business_errors_match_the_documented_shape(
    doc: Json, path: str, body: Json, code: str
) -> None:
    status, answer = Coze().call("post", path, body)
    assert (status, answer["success"], answer["error_code"]) == (200, False, code)
    assert mismatches(answer, response_schema(doc, path, "post")) == []


def test_conflicts_carry_declared_details(doc: Json) -> None:
    # A step that is not ready yet: details name the ready steps, which the model must see.
    coze = Coze()
    _, session = coze.call(
        "post", "/coze/sessions/start", {"task_type": "analysis", "target": TARGET}
    )
    waiting = next(s["step_id"] for s in session["steps"] if s["state"] == "pending")
    _, answer = coze.call("post", "/coze/sessions/submit",
                          {"session_id": session["session_id"], "step_id": waiting, "output": "x"})  # fmt: skip
    assert answer["error_code"] == "STEP_NOT_READY"
    assert answer["details"]["ready_steps"]
    assert mismatches(answer, response_schema(doc, "/coze/sessions/submit", "post")) == []
