"""Builders of valid domain objects for tests, straight from the models."""

from __future__ import annotations

import uuid

from taskchain.models import (
    ChainConfig,
    ChainDefinition,
    Language,
    Session,
    StepRecord,
    StepSpec,
)
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
