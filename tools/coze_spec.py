"""The Coze plugin document: the app's own ``/coze`` routes as an OpenAPI 3.0.1 file Coze imports.

``python -m tools.coze_spec [--server-url URL] > coze/openapi.yaml`` (``make coze-spec``). A
development tool: no function package ships it (PyYAML is a dev-only dependency).

One converter, no second description of the API: it takes the OpenAPI 3.1 document the HTTP
application generates from its routes (what ``GET /openapi.json`` answers), keeps the ``/coze/``
operations, and rewrites them the way Coze's importer (kin-openapi plus its own checks, see
coze-studio ``backend/crossdomain/plugin/model/openapi.go``) needs them:

- exactly one server with a domain name, ``info.title`` and ``info.description``;
- each operation's ``operationId`` and ``summary`` as the route declares them (Coze gives the
  model these as the tool's name and description), its ``description``, its query parameters
  (no object or array parameters) or its JSON request body;
- only the ``200`` response, whose ``application/json`` schema is one object: a Coze route
  answers its model or the error body with 200, so the alternatives are merged into one object
  that declares every field (Coze trims a response to the properties its schema declares,
  recursively) and requires only ``success``;
- every schema inlined rather than ``$ref``-ed (OpenAPI 3.0 ignores a ``$ref``'s siblings, the
  field descriptions, and newer kin-openapi refuses them outright: "extra sibling fields"), in
  OpenAPI 3.0 form (``nullable``, boolean ``exclusiveMinimum``), with a ``type`` on every schema.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

import taskchain
from taskchain.http.routing import COZE_PREFIX
from taskchain.http.settings import HttpSettings
from taskchain.request_fields import NOT_BLANK

Json = dict[str, Any]
PLACEHOLDER_SERVER_URL = "https://YOUR-FUNCTION-URL.lambda-url.REGION.on.aws"
TITLE = "taskchain 任务链"
DESCRIPTION = (
    "把一个目标拆成有依赖关系的步骤，逐步给出写作指引，客观检查每一步的产出，最后生成注明来源的报告。"
    "用法：先调用 startSession，再为每个 ready_steps 中的步骤写出完整产出并调用 submitStep；"
    "accepted=false 时按 feedback 修改后重新提交；忘记进度时调用 getStatus；全部完成后调用 getReport。"
    "业务错误也以 HTTP 200 返回：success=false，error_code 为错误码，error 说明原因和改法。"
    "taskchain turns a goal into a chain of checked steps: start a session, submit each ready step, "
    "fix and resubmit on feedback, then fetch the report with its provenance."
)


def app_openapi(api_key_header: str) -> Json:
    """The HTTP application's OpenAPI 3.1 document, as ``GET /openapi.json`` answers it."""
    from taskchain.bootstrap import bootstrap
    from taskchain.config import Settings
    from taskchain.http.app import build_resolver
    from taskchain.http.auth import Authenticator
    from taskchain.http.idempotency import Idempotency, persistence_for
    from taskchain.http.openapi import document

    env = {"TASKCHAIN_STORE": "memory"}
    resolver = build_resolver(
        bootstrap(env),
        Authenticator({}, header=api_key_header),
        Idempotency(persistence_for(Settings.from_env(env))),
        api_key_header=api_key_header,
    )
    return document(resolver, api_key_header=api_key_header)


# --- the document -----------------------------------------------------------------------------


def build_document(
    server_url: str = PLACEHOLDER_SERVER_URL,
    *,
    api_key_header: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> Json:
    """The Coze plugin document of every ``/coze/`` operation, as JSON-ready data.

    Parameters
    ----------
    server_url
        The function URL (no trailing slash); the placeholder when not deployed yet.
    api_key_header
        The header that carries the service token (``TASKCHAIN_API_KEY_HEADER``; default
        ``X-Api-Key``).
    source
        The application's OpenAPI 3.1 document (default: :func:`app_openapi`).
    """
    header = api_key_header or HttpSettings().api_key_header
    app = source if source is not None else app_openapi(header)
    defs = app.get("components", {}).get("schemas", {})
    paths: Json = {}
    for path, item in app["paths"].items():
        if path.startswith(COZE_PREFIX):
            for method, operation in item.items():
                paths.setdefault(path, {})[method] = _operation(operation, defs)
    return {
        "openapi": "3.0.1",
        "info": {"title": TITLE, "description": DESCRIPTION, "version": taskchain.__version__},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "serviceToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": header,
                    "description": "服务令牌（service token）：在扣子插件的授权方式中选“服务”，位置 Header，"
                    f"参数名 {header}",
                }
            }
        },
        "security": [{"serviceToken": []}],
    }


def _operation(operation: Mapping[str, Any], defs: Mapping[str, Any]) -> Json:
    """One route's operation as Coze imports it."""
    name = str(operation["operationId"])
    out: Json = {
        "operationId": name,
        "summary": operation["summary"],
        "description": operation["description"],
    }
    if operation.get("parameters"):
        out["parameters"] = [_parameter(p, defs, name) for p in operation["parameters"]]
    if "requestBody" in operation:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _top(body, defs, name)}},
        }
    ok = operation["responses"]["200"]
    answer = _merged(ok["content"]["application/json"]["schema"], defs, name)
    # The same 200 carries the success fields or the error fields: only `success` is always there.
    answer["required"] = ["success"]
    out["responses"] = {
        "200": {
            "description": ok["description"],
            "content": {"application/json": {"schema": answer}},
        }
    }
    return out


def _parameter(param: Mapping[str, Any], defs: Mapping[str, Any], owner: str) -> Json:
    """A query parameter: absent when unset, never null; its description at the parameter."""
    schema = _convert(param["schema"], defs, owner, (owner,))
    return {
        "name": param["name"],
        "in": param["in"],
        "required": bool(param.get("required", False)),
        "description": param.get("description") or schema.get("description", ""),
        "schema": {k: v for k, v in schema.items() if k not in ("description", "nullable")},
    }


def _top(schema: Mapping[str, Any], defs: Mapping[str, Any], owner: str) -> Json:
    """A body's schema inlined; the model's docstring goes (the operation describes the body)."""
    out = _convert(schema, defs, owner, (owner,))
    out.pop("description", None)
    return out


def _merged(schema: Mapping[str, Any], defs: Mapping[str, Any], owner: str) -> Json:
    """A response schema as one object: the properties of every alternative, first one first;
    an object both alternatives have (a run's ``details`` and an error's) holds the properties of
    both."""
    members = schema.get("anyOf") or schema.get("oneOf") or [schema]
    merged: Json = {"type": "object", "properties": {}}
    for member in members:
        converted = _top(member, defs, owner)
        if converted.get("type") != "object":
            raise SchemaError(f"{owner}: Coze needs an object as the 200 response")
        for key, prop in converted.get("properties", {}).items():
            known = merged["properties"].setdefault(key, prop)
            if known is not prop and known.get("type") == prop.get("type") == "object":
                for name, inner in prop.get("properties", {}).items():
                    known.setdefault("properties", {}).setdefault(name, inner)
                # required: only what every alternative requires
                both = [r for r in known.pop("required", []) if r in prop.get("required", [])]
                known.update({"required": both} if both else {})
    return merged


# --- JSON Schema 2020-12 (pydantic) -> OpenAPI 3.0 --------------------------------------------

# The Schema Object keywords of OpenAPI 3.0.3 (section 4.7.24), besides the ones rewritten below.
SCHEMA_KEYWORDS = frozenset(
    {
        "type", "nullable", "description", "format", "enum", "default", "example",
        "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
        "maxProperties", "minProperties", "required", "properties", "items",
        "additionalProperties", "allOf", "oneOf", "anyOf", "not", "readOnly", "writeOnly",
        "deprecated", "discriminator", "xml", "externalDocs", "title",
    }
)  # fmt: skip
_DROPPED = frozenset({"$schema", "$id", "$comment", "title"})  # noise for Coze and the model
# Conditional requirements (``custom_chain`` with ``task_type: custom``) have no OpenAPI 3.0 form;
# the field descriptions say them in words.
_CONDITIONAL = frozenset({"if", "then", "else"})
# Keywords whose value is not a schema, copied as they are; the others are converted below or refused.
_COPIED = SCHEMA_KEYWORDS - {"allOf", "anyOf", "oneOf", "not", "discriminator", "type", "properties",
                             "items", "additionalProperties", "default", "title"}  # fmt: skip
_NUMBERS = frozenset({"maximum", "minimum", "multipleOf"})  # 100.0 from the 3.1 models reads as 100
_KEY_ORDER = ("type", "nullable", "description", "enum", "format", "default")


class SchemaError(ValueError):
    """A schema has a construct with no OpenAPI 3.0 form that Coze accepts."""


def openapi_schema(model: type[BaseModel], *, mode: Literal["validation", "serialization"]) -> Json:
    """``model``'s JSON Schema as an inlined OpenAPI 3.0 schema (what a body or answer becomes)."""
    raw = model.model_json_schema(mode=mode)
    defs = raw.pop("$defs", {})
    raw.pop("description", None)  # the class docstring: the operation describes the body instead
    return _convert(raw, defs, model.__name__, (model.__name__,))


def _convert(
    node: Mapping[str, Any], defs: Mapping[str, Any], owner: str, stack: Sequence[str]
) -> Json:
    """One schema node converted, its ``$ref``s inlined; ``owner`` names it in errors."""
    out: Json = {}
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]  # #/$defs/X or #/components/schemas/X
        if name in stack:
            raise SchemaError(f"{owner}: {name} is recursive and cannot be inlined for Coze")
        out.update(_convert(defs[name], defs, name, (*stack, name)))
        out.pop("description", None)  # a class docstring, written for Python readers
    for key, value in node.items():
        if key == "$ref" or key in _DROPPED or key in _CONDITIONAL:
            continue
        if key == "format" and str(value).startswith("taskchain-"):
            continue  # our own formats (an opaque cursor) mean nothing to Coze
        if key == "pattern" and value == NOT_BLANK:
            continue  # "not only whitespace": ECMA-262 escapes Go's regexp (Coze) cannot read
        if key in ("anyOf", "oneOf") or (key == "type" and isinstance(value, list)):
            null = "null" if key == "type" else {"type": "null"}
            members = [m for m in value if m != null]
            if len(members) != 1 or len(members) == len(value):
                raise SchemaError(f"{owner}: only `X | None` unions have a form Coze reads")
            out.update(
                _convert(members[0], defs, owner, stack) if key != "type" else {key: members[0]}
            )
            out["nullable"] = True
        elif key == "type" or (key == "additionalProperties" and isinstance(value, bool)):
            out[key] = value
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = _number(value)
            out[key] = True
        elif key == "properties":
            out[key] = {name: _convert(sub, defs, owner, stack) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _convert(value, defs, owner, stack)
        elif key == "prefixItems":
            if any(member != value[0] for member in value):
                raise SchemaError(f"{owner}: a tuple of mixed types has no OpenAPI 3.0 form")
            out["items"] = _convert(value[0], defs, owner, stack)
        elif key == "examples":
            out["example"] = value[0]
        elif key == "default":
            if value is not None and not isinstance(value, Mapping):  # objects: their fields say it
                out[key] = value
        elif key in _COPIED:
            out[key] = _number(value) if key in _NUMBERS else value
        else:
            raise SchemaError(f"{owner}: JSON Schema keyword {key!r} has no form Coze reads")
    if "type" not in out:
        raise SchemaError(f"{owner}: Coze needs a type on every schema, got {sorted(node)}")
    return _ordered(out)


def _number(value: Any) -> Any:
    """``100.0`` as ``100``; other values as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _ordered(schema: Json) -> Json:
    """``schema`` with its keys in a reading order (type, nullable, description ... first)."""
    head = [k for k in _KEY_ORDER if k in schema]
    return {k: schema[k] for k in [*head, *(k for k in schema if k not in _KEY_ORDER)]}


def render(document: Json) -> str:
    """The document as YAML: stable key order, Chinese kept readable."""
    import yaml  # type: ignore[import-untyped]  # dev-only dependency (comes with cfn-lint)

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True  # every schema written out in full: no &id anchors for a reader to chase

    text: str = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120)
    return "# Generated by `make coze-spec` (tools/coze_spec.py) — do not edit by hand.\n" + text


# --- command line -----------------------------------------------------------------------------

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def server_url(text: str) -> str:
    """A server URL Coze accepts: http(s), a domain name (not an IP), no trailing slash.

    Coze joins the server URL and each path as strings, so a trailing slash would double.
    """
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"not an http(s) URL without query: {text!r}")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        pass
    else:
        raise argparse.ArgumentTypeError("Coze needs a domain name, not an IP address")
    if len(url) > 512:
        raise argparse.ArgumentTypeError("Coze accepts server URLs of at most 512 characters")
    return url


def header_name(text: str) -> str:
    """An HTTP header name."""
    if not _HEADER_NAME.match(text):
        raise argparse.ArgumentTypeError(f"not an HTTP header name: {text!r}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Print (or write) the Coze plugin document."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.coze_spec",
        description="Print the Coze-importable OpenAPI 3.0.1 document of the /coze routes.",
    )
    parser.add_argument(
        "--server-url",
        type=server_url,
        default=PLACEHOLDER_SERVER_URL,
        help=f"the deployed function URL (default: the placeholder {PLACEHOLDER_SERVER_URL})",
    )
    parser.add_argument(
        "--api-key-header",
        type=header_name,
        default=HttpSettings().api_key_header,
        help="the token header, as TASKCHAIN_API_KEY_HEADER sets it (default: %(default)s)",
    )
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    args = parser.parse_args(argv)
    data = render(build_document(args.server_url, api_key_header=args.api_key_header)).encode()
    if args.output:
        # Written whole or not at all: a failed run never leaves a truncated document behind.
        partial = f"{args.output}.tmp"
        with open(partial, "wb") as f:
            f.write(data)
        os.replace(partial, args.output)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
