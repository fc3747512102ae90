"""The check of a custom step's JSON output against its schema."""

from __future__ import annotations

import json
import re

from taskchain.models import Feedback, Rule
from taskchain.validation.context import Context, result, t
from taskchain.validation.rules import compiled_schema

_JSON_FENCE = re.compile(r"```(?:json)?\s*\n(?P<body>.*?)\n```", re.DOTALL)


def schema_check(ctx: Context, rule: Rule) -> Feedback:
    import fastjsonschema  # only custom steps with a json_schema need it: not at cold start

    schema = ctx.step.validation_rules.json_schema
    fence = _JSON_FENCE.search(ctx.output)
    raw = fence.group("body") if fence else ctx.output
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
        return result(
            ctx,
            rule,
            False,
            f"输出不是有效的 JSON：{detail}",
            f"output is not valid JSON: {detail}",
            t(
                ctx.lang,
                "只输出一个 JSON 对象，或放在 ```json 代码块中。",
                "Output a single JSON object, or put it in a ```json code block.",
            ),
        )
    try:
        compiled_schema(json.dumps(schema, sort_keys=True))(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        return result(
            ctx,
            rule,
            False,
            f"JSON 不符合要求的结构：{exc.message}",
            f"JSON does not match the schema: {exc.message}",
            t(ctx.lang, "按步骤给出的 JSON 结构修改字段。", "Fix the fields to match the schema."),
        )
    return result(ctx, rule, True, "JSON 结构符合要求", "JSON matches the schema")
