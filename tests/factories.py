"""Builders of valid domain objects for tests, straight from the models."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from taskchain import chain, engine, report
from taskchain.capabilities import CapabilityRegistry
from taskchain.models import (
    ChainConfig,
    ChainDefinition,
    Language,
    Session,
    StepRecord,
    StepSpec,
)
from taskchain.report import Report
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


_ZH_CHARS = (
    "豆浆油条茶杯门店社区居民早餐牛奶面包菜单柜台店员排班库存房租电费外卖骑手小区学校车站公园菜场书店"
    "药房银行快递仓库货架冷柜咖啡拿铁蛋糕果汁周末清晨傍晚雨天节假会员积分优惠月卡年卡储值复购口碑点评"
    "海报传单社群收银扫码座位插座停车步行楼下桌椅灯光音乐窗台花草树木河岸桥梁巷口路灯邮局超市"
)
_EN_SYLLABLES = ("ka", "lo", "mer", "vin", "sta", "pol", "ren", "dus", "tir", "bel", "cor", "nam")


def good_output(guidance: object, *, variant: str = "") -> str:
    """An honest-looking output that passes every rule the step's ``guidance`` announces.

    ``guidance`` is a ready step's guidance, as a dict (service responses) or a
    :class:`~taskchain.guidance.StepGuidance` (what an executor receives). It is built from the
    guidance's machine-readable ``rules``: a ``## <title>`` section per required section with one
    more item than its count asks for, the reasoning links and rating words the rules name, a
    passage with concrete content per focus area, the target named, and at least ``min_length``.
    Its concrete words are drawn deterministically from the step id and ``variant``, so outputs
    of different steps or attempts do not repeat each other.
    """
    import hashlib
    import random

    from pydantic import BaseModel

    from taskchain.text import measure

    g: dict[str, Any] = guidance.model_dump() if isinstance(guidance, BaseModel) else dict(guidance)  # type: ignore[call-overload]
    zh = g["language"] != "en"
    seed = int(hashlib.sha256(f"{g['step_id']}|{variant}".encode()).hexdigest()[:12], 16)
    rng = random.Random(seed)
    rules = g.get("rules") or []
    sections = list(g["required_sections"]) or ["要点" if zh else "Main points"]
    counts = {r["section"]: r["min_items"] for r in rules if r["kind"] == "min_items"}
    reasoning = {r["section"] for r in rules if r["kind"] == "reasoning"}
    mentions = {r["section"]: r["groups"] for r in rules if r["kind"] == "mentions"}

    def words(n: int) -> str:
        # Made-up words, different for every step: concrete to the checks, never a repeat.
        if zh:
            return "".join(rng.choice(_ZH_CHARS) for _ in range(2 * n))
        return " ".join("".join(rng.choice(_EN_SYLLABLES) for _ in range(3)) for _ in range(n))

    def fact(i: int) -> str:
        n = rng.randint(2, 97)
        if zh:
            return f"{words(2)}的{words(2)}约为 {n}%，比{words(1)}高 {i + 1} 成，{words(2)}随之变化"
        return f"The {words(2)} share is about {n}% and beats the {words(1)} by {i + 1} points"

    def build(extra: int) -> str:
        lines = [
            f"本步骤针对「{g['name']}」，对象是「{_target(g)}」。"
            if zh
            else f"This step, {g['name']}, is about “{_target(g)}”.",
            "",
        ]
        for n, title in enumerate(sections):
            lines += [f"## {title}", ""]
            lines += [f"- {fact(i)}" for i in range(counts.get(title, 1) + 1 + extra)]
            if title in reasoning:
                lines += [
                    f"- 因为{words(2)}在 {rng.randint(3, 9)} 月减少，所以{words(2)}需要提前调整。"
                    if zh
                    else f"- Because the {words(1)} fell by {rng.randint(3, 9)}%, the "
                    f"{words(1)} must change.",
                    f"- 如果{words(2)}继续增加，那么{words(2)}会在 {rng.randint(2, 6)} 周内饱和。"
                    if zh
                    else f"- If the {words(1)} keeps growing, then the {words(1)} fills "
                    f"up within {rng.randint(2, 6)} weeks.",
                ]
            for group in mentions.get(title, []):
                word = next((w for w in group if w.isascii() != zh), group[0])
                lines.append(
                    f"- {word}：{words(2)}为{rng.choice('高中低')}"
                    if zh
                    else f"- {word}: {rng.choice(['high', 'medium', 'low'])} for the {words(1)}"
                )
            if n == 0:
                for area in g["focus_areas"]:
                    lines.append(
                        f"- 关于「{area}」：{words(3)}每月约 {rng.randint(10, 90)} 次，{words(3)}"
                        f"要在 {rng.randint(2, 8)} 周内{words(2)}。"
                        if zh
                        else f"- On {area}: the {words(3)} runs about "
                        f"{rng.randint(10, 90)} times a month and the {words(2)} should follow "
                        f"within {rng.randint(2, 8)} weeks."
                    )
            lines.append("")
        return "\n".join(lines).strip() + "\n"

    extra = 0
    text = build(extra)
    while measure(text) < g["min_length"] + 20:
        extra += 1
        text = build(extra)
    return text


def _target(g: dict[str, object]) -> str:
    """The target named in a guidance's instructions (its first line)."""
    first = str(g["instructions"]).splitlines()[0]
    return first.split("：", 1)[-1].split(": ", 1)[-1].strip()


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


def answered(steps: list[dict[str, Any]], outputs: dict[str, str], **config: Any) -> Report:
    """The report of a chain whose steps were completed with ``outputs`` (checks bypassed)."""
    definition, registry = build_chain(steps=steps, **config)
    session = start_chain(definition)
    for step_id, output in outputs.items():
        session = complete_step(session, step_id, output)
    return report.build(session, registry, now=T0 + 3600)


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
