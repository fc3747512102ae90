"""Turning a request into a chain definition: templates, custom chains, learning chains."""

from __future__ import annotations

import json
from typing import Any

from taskchain.capabilities import CapabilityRegistry, inline_capability
from taskchain.errors import chain_error, missing_field
from taskchain.graph import chain_order
from taskchain.limits import DEFAULT_MAX_ATTEMPTS
from taskchain.models import (
    ChainConfig,
    ChainDefinition,
    ExecutorName,
    StepSpec,
    ValidationRules,
)
from taskchain.requests import ChainRequest, CustomStepIn
from taskchain.templates import load_template
from taskchain.validation import SKIPPABLE, compiled_schema


def build(
    request: ChainRequest, *, run: ExecutorName | None = None
) -> tuple[ChainDefinition, CapabilityRegistry]:
    """The chain ``request`` asks for, validated, in chain order, with its capability registry.

    For a run, ``run`` is the executor used when the request names none, and ``config.executor``
    is the request's or that one. Without ``run`` the chain is a guided session's: its steps are
    submitted by the caller and ``config.executor`` is ``None`` (a request's is documented as for
    runs only, and not used).

    A supplied ``custom_chain`` is used whatever the task type (as in the original plugin);
    ``education`` may give a ``learning_chain``; otherwise the task type's template is used.

    Raises
    ------
    InvalidRequestError
        ``MISSING_REQUIRED_FIELD`` for ``custom`` without a chain.
    ChainError
        Unknown capability or dependency, duplicate id, cycle, too many steps, bad JSON schema.
    """
    cfg = request.config
    config = ChainConfig(
        depth=cfg.depth,
        focus_areas=tuple(dict.fromkeys(cfg.focus_areas)),
        language=cfg.language,
        execution_mode=cfg.execution_mode,
        continue_on_failure=request.keep_going,
        executor=(cfg.executor or run) if run is not None else None,
    )
    inline = tuple(
        inline_capability(c.name, c.checklist, c.sections) for c in request.capabilities or ()
    )
    registry = (
        CapabilityRegistry.builtin().with_inline(inline)
        if inline
        else (CapabilityRegistry.builtin())
    )
    template: str | None = None
    if request.custom_chain:
        steps = [_custom_step(i, s, registry) for i, s in enumerate(request.custom_chain, 1)]
    elif request.task_type == "education" and request.learning_chain:
        steps = []
        for i, ls in enumerate(request.learning_chain, 1):
            steps.append(
                StepSpec(
                    id=f"step_{i}",
                    name=ls.step,
                    description=ls.action,
                    capabilities=(),
                    dependencies=(f"step_{i - 1}",) if i > 1 else (),
                )
            )
    elif request.task_type == "custom":
        raise missing_field("custom_chain")
    else:
        template = request.task_type
        steps = list(load_template(template).step_specs(config.language))
    order = chain_order(steps)
    by_id = {s.id: s for s in steps}
    definition = ChainDefinition(
        task_type=request.task_type,
        target=request.target,
        config=config,
        steps=tuple(by_id[i] for i in order),
        template=template,
        capabilities=inline,
    )
    return definition, registry


def registry_for(definition: ChainDefinition) -> CapabilityRegistry:
    """The capability registry a session's steps resolve against (built-ins plus inline ones)."""
    builtin = CapabilityRegistry.builtin()
    return builtin.with_inline(definition.capabilities) if definition.capabilities else builtin


def _custom_step(index: int, step: CustomStepIn, registry: CapabilityRegistry) -> StepSpec:
    """A custom step with its id defaulted, capabilities resolved and JSON schema checked."""
    step_id = step.id or f"step_{index}"
    capabilities = tuple(
        dict.fromkeys(registry.resolve(name).name for name in step.required_capabilities)
    )
    rules = step.validation_rules or ValidationRules()
    if rules.json_schema is not None:
        _check_json_schema(step_id, rules.json_schema)
    if (
        rules.min_length is not None
        and rules.max_length is not None
        and rules.min_length > rules.max_length
    ):
        raise chain_error(
            f"步骤 {step_id} 的 min_length 大于 max_length",
            f"step {step_id} has min_length greater than max_length",
            step_id=step_id,
        )
    switchable = SKIPPABLE | {c.rule for n in capabilities for c in registry.resolve(n).checks}
    unknown = [r for r in rules.skip_rules if r not in switchable]
    if unknown:
        raise chain_error(
            f"步骤 {step_id} 的 skip_rules 含有不能关闭的规则：{'、'.join(unknown)}"
            f"（可关闭：{'、'.join(sorted(switchable))}）",
            f"step {step_id}: skip_rules names rules that cannot be switched off: "
            f"{', '.join(unknown)} (possible: {', '.join(sorted(switchable))})",
            step_id=step_id,
            unknown=unknown,
            allowed=sorted(switchable),
        )
    return StepSpec(
        id=step_id,
        name=step.name,
        description=step.description,
        capabilities=capabilities,
        dependencies=tuple(dict.fromkeys(step.dependencies)),
        validation_rules=rules,
        max_attempts=step.max_attempts or DEFAULT_MAX_ATTEMPTS,
    )


def _check_json_schema(step_id: str, schema: dict[str, Any]) -> None:
    """Compile a step's JSON schema once; refuse one that cannot be compiled, and any ``$ref``
    outside the schema itself (fastjsonschema would fetch it: a URL, a file on this machine).

    Raises
    ------
    ChainError
        With the reason in ``details.reason`` (the validator's English words, never exception text).
    """
    import re

    import fastjsonschema  # only a step with a json_schema needs it: not at cold start

    outside = _outside_ref(schema)
    if outside is not None:
        reason = f"$ref {outside!r} is outside the schema: a $ref must start with #"
        said = f"$ref {outside!r} 指向 schema 之外：$ref 必须以 # 开头"
    else:
        try:
            compiled_schema(json.dumps(schema, sort_keys=True))
            return
        except re.error as exc:
            reason, said = str(exc), "某个 pattern 不是有效的正则表达式"
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            reason = str(exc)
            said = _definition_zh(reason)
        except Exception:  # wrong types where schemas belong, nesting too deep to compile
            reason = "the schema cannot be compiled"
            said = "无法编译：某处该是 schema 的地方类型不对，或嵌套太深"
    raise chain_error(  # the validator's own (English) words go in details, not the message
        f"步骤 {step_id} 的 json_schema 不是有效的 JSON Schema：{said}；校验器的原话见 details.reason",
        f"step {step_id} has an invalid json_schema: {reason}",
        step_id=step_id,
        reason=reason,
    )


# The validator's definition errors a Chinese message can say in its own words.
_DEFINITION_ZH = (
    ("Unknown type", "type 的值不是 JSON Schema 的类型（string、number、integer、boolean、array、"
     "object、null）"),
    (" must be a number", " 应为数字"),
    (" must be an integer, a float or a decimal", " 应为数字"),
    (" must be an array", " 应为数组"),
    (" must contain unique elements", " 不能有重复的元素"),
    ("Unresolvable ref: ", "$ref 指向的位置不存在："),
)  # fmt: skip


def _definition_zh(reason: str) -> str:
    """The validator's reason for refusing a schema, in Chinese where it is a known one."""
    for english, chinese in _DEFINITION_ZH:
        if english in reason:
            return reason.replace(english, chinese)
    return "校验器无法使用它"


def _outside_ref(schema: Any) -> str | None:
    """The first ``$ref`` in ``schema`` that does not point inside it (``#...``), if any."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None
