"""Builders of valid domain objects for tests, straight from the models."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from taskchain import chain, engine
from taskchain.capabilities import CapabilityRegistry
from taskchain.models import (
    ChainConfig,
    ChainDefinition,
    Language,
    Session,
    StepRecord,
    StepSpec,
)
from taskchain.requests import ChainRequest, parse
from taskchain.states import StepState

T0 = 1_700_000_000.0  # a fixed "now" for tests: 2023-11-14
DAY = 86_400.0

_UNSET = object()


class FakeClock:
    """A clock the test moves by hand: ``clock()`` returns ``clock.now``."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


def make_session(
    tenant: str = "t1",
    session_id: str | None = None,
    end_user: str | None = None,
    created_at: float = T0,
    expires_at: float | object | None = _UNSET,
    steps: int = 2,
    target: str = "评估一家社区咖啡店是否应该推出会员订阅制",
    language: Language = "zh",
) -> Session:
    """A fresh version-1 session of a custom chain with ``steps`` independent steps.

    ``expires_at`` defaults to a day after ``created_at``; pass ``None`` for no expiry.
    """
    specs = tuple(
        StepSpec(
            id=f"step_{i}",
            name=f"步骤 {i}",
            description=f"第 {i} 步：理解问题并列出要点",
            capabilities=("理解分析",),
        )
        for i in range(1, steps + 1)
    )
    return Session(
        session_id=session_id or uuid.uuid4().hex,
        tenant=tenant,
        end_user=end_user,
        definition=ChainDefinition(
            task_type="custom",
            target=target,
            config=ChainConfig(language=language),
            steps=specs,
        ),
        records={spec.id: StepRecord(step_id=spec.id) for spec in specs},
        created_at=created_at,
        updated_at=created_at,
        expires_at=created_at + DAY if expires_at is _UNSET else expires_at,
    )


def complete_step(
    session: Session, step_id: str, output: str, *, now: float | None = None
) -> Session:
    """The next version of ``session`` with ``step_id`` completed with ``output``.

    Stands in for the engine: bumps the version and marks the changed record with it.
    """
    version = session.version + 1
    when = session.updated_at + 1 if now is None else now
    record = session.records[step_id].model_copy(
        update={
            "state": StepState.COMPLETED,
            "attempts": session.records[step_id].attempts + 1,
            "output": output,
            "finished_at": when,
            "changed_in": version,
        }
    )
    records = {**session.records, step_id: record}
    done = all(r.state is StepState.COMPLETED for r in records.values())
    return session.model_copy(
        update={
            "version": version,
            "records": records,
            "updated_at": when,
            "status": "completed" if done else session.status,
        }
    )


def good_output(guidance: object, *, variant: str = "") -> str:
    """An honest output that passes every check the step's ``guidance`` announces.

    ``guidance`` is a ready step's guidance, as a dict (service responses) or a
    :class:`~taskchain.guidance.StepGuidance` (what an executor receives). The output has a
    ``## <title>`` heading per required section with enough substantive bullet items for the
    capabilities' item counts, the marker words their keyword checks need (in the step's
    language), every focus area named, and at least the depth's ``min_length``. Every sentence
    names the step (and ``variant``), so outputs of different steps or attempts never repeat.
    """
    import re
    from typing import Any

    from pydantic import BaseModel

    from taskchain.capabilities import CapabilityRegistry
    from taskchain.text import measure

    g: dict[str, Any] = guidance.model_dump() if isinstance(guidance, BaseModel) else dict(guidance)  # type: ignore[call-overload]
    zh = g["language"] != "en"
    cjk = re.compile(r"[\u4e00-\u9fff]")
    name, tag = g["name"], f"{g['step_id']}{variant}"
    registry = CapabilityRegistry.builtin()
    words: list[str] = []
    for cap_name in g["capabilities"]:
        if cap_name not in registry:
            continue
        for check in registry.resolve(cap_name).checks:
            if check.kind == "keywords":
                words += [w for w in check.keywords if bool(cjk.search(w)) == zh][: check.count]
    sections = list(g["required_sections"]) or ["要点" if zh else "Main points"]

    def item(title: str, i: int) -> str:
        if zh:
            return (
                f"「{name}」（{tag}）在「{title}」方面的第 {i} 点判断有依据支撑，"
                f"来源是访谈记录与第 {i} 组经营数据，仍需一次小范围试点验证"
            )
        return (
            f"Point {i} on {title} in step {name} ({tag}) rests on interview notes and data "
            f"set {i}, and a small pilot should confirm it before anyone relies on it"
        )

    def build(per_section: int) -> str:
        intro = (
            f"本步骤「{name}」（{tag}）的要点如下，每一点都写明了依据"
            if zh
            else f"The main points of step {name} ({tag}) follow, each with its basis."
        )
        lines = [intro, ""]
        for n, title in enumerate(sections):
            lines += [f"## {title}", ""]
            lines += [f"- {item(title, i)}" for i in range(1, per_section + 1)]
            if n == 0:
                for area in g["focus_areas"]:
                    lines.append(
                        f"- 关注点「{area}」直接影响「{name}」（{tag}）的判断，依据见上文各点"
                        if zh
                        else f"- The focus area {area} bears directly on step {name} ({tag})"
                    )
                if words:
                    lines.append(
                        f"- 推理（{tag}）："
                        + "，".join(f"{w}第 {k} 条依据成立" for k, w in enumerate(words, 1))
                        if zh
                        else f"- Reasoning ({tag}): "
                        + ", ".join(f"{w} basis {k} holds" for k, w in enumerate(words, 1))
                    )
            lines.append("")
        return "\n".join(lines).strip() + "\n"

    per_section = 3
    text = build(per_section)
    while measure(text) < g["min_length"] + 20:
        per_section += 1
        text = build(per_section)
    return text


# --- chains built the way callers build them, and outputs that pass (or fail) the checks ------


def custom_step(
    step_id: str,
    *dependencies: str,
    capabilities: Sequence[str] = ("理解分析",),
    **extra: object,
) -> dict[str, object]:
    """One ``custom_chain`` entry as a request carries it (``extra``: max_attempts, rules...)."""
    return {
        "id": step_id,
        "name": f"步骤 {step_id}",
        "description": f"完成 {step_id} 这一步",
        "required_capabilities": list(capabilities),
        "dependencies": list(dependencies),
        **extra,
    }


def build_chain(
    task_type: str = "custom",
    *,
    steps: Sequence[Mapping[str, object]] | None = None,
    target: str = "评估一家社区咖啡店是否应该推出会员订阅制",
    language: str = "zh",
    depth: str = "detailed",
    focus_areas: Sequence[str] = (),
    execution_mode: str = "sequential",
    continue_on_failure: bool = True,
    inline_capabilities: Sequence[Mapping[str, object]] = (),
) -> tuple[ChainDefinition, CapabilityRegistry]:
    """A chain built through the request parser and :func:`taskchain.chain.build`.

    ``inline_capabilities`` are the request's own ``{name, checklist, sections}`` entries.
    """
    body: dict[str, object] = {
        "task_type": task_type,
        "target": target,
        "config": {
            "language": language,
            "depth": depth,
            "focus_areas": list(focus_areas),
            "execution_mode": execution_mode,
        },
        "continue_on_failure": continue_on_failure,
    }
    if steps is not None:
        body["custom_chain"] = [dict(s) for s in steps]
    if inline_capabilities:
        body["capabilities"] = [dict(c) for c in inline_capabilities]
    return chain.build(parse(ChainRequest, body))


def start_chain(definition: ChainDefinition, *, now: float = T0, session_id: str = "s1") -> Session:
    """A session of ``definition`` started by the engine at ``now``."""
    return engine.start(definition, session_id=session_id, tenant="t1", now=now)


def passing_output(
    session: Session, step_id: str, registry: CapabilityRegistry, *, variant: str = ""
) -> str:
    """An honest output for ``step_id`` that passes its checks, from the step's guidance.

    The guidance comes from ``registry`` (so inline capabilities' sections count); see
    :func:`good_output` for what the output holds. Steps with a ``json_schema`` are not covered.
    """
    from taskchain.guidance import guide

    return good_output(guide(session, step_id, registry), variant=variant)


def bad_output(language: str = "zh") -> str:
    """An output that fails the checks of any step: far too short and without sections."""
    return "还没想好。" if language != "en" else "Not sure yet."
