"""One error hierarchy with stable codes and categories, worded in Chinese and English (no HTTP here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from taskchain import labels

Language = Literal["zh", "en"]


class TaskchainError(Exception):
    """Base of every error taskchain raises on purpose.

    Parameters
    ----------
    zh, en
        The message in Chinese and in English; callers see the one in their language.
    code
        A stable machine-readable code (``STEP_NOT_READY`` ...); defaults to the class's.
    details
        Structured facts about the failure (the cycle, the ready steps, the versions).
    """

    code: str = "INTERNAL_ERROR"
    category: str = "INTERNAL_ERROR"

    def __init__(
        self,
        zh: str,
        en: str | None = None,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.messages: dict[str, str] = {"zh": zh, "en": en or zh}
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.messages["en"])

    def message(self, language: str = "zh") -> str:
        """The message in ``language`` (Chinese when the language is unknown)."""
        return self.messages.get(language, self.messages["zh"])

    def to_body(self, language: str = "zh") -> dict[str, Any]:
        """The error body every entrypoint renders: success flag, code, category, message, details."""
        return {
            "success": False,
            "error_code": self.code,
            "category": self.category,
            "error": self.message(language),
            "details": self.details,
        }


class InvalidRequestError(TaskchainError):
    """The request is malformed: a missing field, a wrong type, a value out of bounds."""

    code = "INVALID_FIELD"
    category = "VALIDATION_ERROR"


class ChainError(InvalidRequestError):
    """The chain cannot be built: a cycle, an unknown dependency or capability, too many steps."""

    code = "INVALID_CUSTOM_CHAIN"


class ExecutorUnavailableError(InvalidRequestError):
    """A run asks for an executor the service has not configured (``llm`` without a model)."""

    code = "EXECUTOR_UNAVAILABLE"


class NotFoundError(TaskchainError):
    """No such session or step for this tenant (another tenant's session is not found either)."""

    code = "SESSION_NOT_FOUND"
    category = "NOT_FOUND"


class ConflictError(TaskchainError):
    """The request contradicts the session's state: stale version, step not ready, already done."""

    code = "CONFLICT"
    category = "CONFLICT"


class SessionExistsError(ConflictError):
    """A store was asked to create a session whose id is already taken."""

    code = "SESSION_EXISTS"


class InvalidTransitionError(ConflictError):
    """A step was asked to move between two states the state machine does not connect."""

    code = "INVALID_TRANSITION"

    def __init__(self, step_id: str, src: str, dst: str) -> None:
        super().__init__(
            f"步骤 {step_id} 不能从 {src} 转为 {dst}",
            f"step {step_id} cannot move from {src} to {dst}",
            details={"step_id": step_id, "from": src, "to": dst},
        )
        self.step_id, self.src, self.dst = step_id, src, dst


class ExecutionError(TaskchainError):
    """An executor could not produce a step's output (timeout, crash, refused every attempt)."""

    code = "EXECUTION_FAILED"
    category = "EXECUTION_ERROR"


class StoreError(TaskchainError):
    """The session store is unreachable or throttled; the session was left unchanged."""

    code = "STORE_UNAVAILABLE"
    category = "INTERNAL_ERROR"


def may_concern_a_session(exc: BaseException) -> bool:
    """Whether ``exc`` may be about an existing session, and so be worded in its language.

    Not an unexpected exception, nor a store failure (asking the store for the session's
    language would fail again, and slowly), nor ``SESSION_NOT_FOUND`` (there is no session).
    """
    return (
        isinstance(exc, TaskchainError)
        and not isinstance(exc, StoreError)
        and exc.code != "SESSION_NOT_FOUND"
    )


def internal_error_body(language: str = "zh") -> dict[str, Any]:
    """The body for an unexpected exception: never its text, never a stack trace."""
    return TaskchainError(
        "内部错误，请稍后重试；如果问题持续，请联系服务管理员。",
        "Internal error. Please retry later; if it persists, contact the service operator.",
    ).to_body(language)


def session_not_found(session_id: str) -> NotFoundError:
    """The one ``SESSION_NOT_FOUND``: an unknown, expired or deleted session, or another tenant's
    (or another end user's) — callers cannot tell these apart, by design."""
    return NotFoundError(
        f"没有会话 {session_id}（可能已过期或被删除）",
        f"no session {session_id} (it may have expired or been deleted)",
        code="SESSION_NOT_FOUND",
        details={"session_id": session_id},
    )


def stale_version(expected_version: int, current_version: int, **details: Any) -> ConflictError:
    """The one ``STALE_VERSION``: the session is no longer at the version the caller expected.

    Raised by the engine for a stale ``expected_version`` (with the session's ``status`` and
    ``ready_steps`` in ``details``) and by the stores for a save that lost the race.
    """
    return ConflictError(
        f"版本已过期：期望 {expected_version}，当前 {current_version}；请先获取最新状态再重试",
        f"stale version: expected {expected_version}, current {current_version}; "
        "fetch the current state and retry",
        code="STALE_VERSION",
        details={
            "expected_version": expected_version,
            "current_version": current_version,
            **details,
        },
    )


def missing_field(field: str) -> InvalidRequestError:
    """The error for a required field that is absent or empty."""
    return InvalidRequestError(
        f"缺少必需字段：{field}",
        f"missing required field: {field}",
        code="MISSING_REQUIRED_FIELD",
        details={"field": field},
    )


def invalid_field(field: str, zh: str, en: str, **details: Any) -> InvalidRequestError:
    """The error for a field whose value is present but not acceptable."""
    return InvalidRequestError(
        f"字段 {field} 无效：{zh}",
        f"invalid field {field}: {en}",
        code="INVALID_FIELD",
        details={"field": field, **details},
    )


def invalid_json(
    reason: tuple[str, str] | None = None, *, what: tuple[str, str] = ("请求体", "the request body")
) -> InvalidRequestError:
    """``INVALID_JSON`` about ``what`` (Chinese, English), saying why when the reason is known."""
    zh, en = reason or ("需要 UTF-8 编码的 JSON 对象", "send a UTF-8 JSON object")
    return InvalidRequestError(
        f"{what[0]}不是有效的 JSON（{zh}）",
        f"{what[1]} is not valid JSON ({en})",
        code="INVALID_JSON",
    )


def chain_error(zh: str, en: str, **details: Any) -> ChainError:
    """The error for a chain that cannot be built."""
    return ChainError(f"任务链无效：{zh}", f"invalid chain: {en}", details=details)


def names(items: Sequence[str]) -> str:
    """Join names for a message."""
    return ", ".join(items)


def step_already_done(
    step_id: str, state: str, ready: Sequence[str], *, skipping: bool = False
) -> ConflictError:
    """The one ``STEP_ALREADY_DONE``: the step has finished; the message names the steps to
    work on instead (``ready``), or says none is left."""
    if not ready:
        zh_next, en_next = "任务链已没有可做的步骤", "the chain has no step left to work on"
    elif len(ready) == 1:
        zh_next, en_next = f"现在可做的步骤：{ready[0]}", f"the step ready now is {ready[0]}"
    else:
        zh_next = f"现在可做的步骤：{'、'.join(ready)}"
        en_next = f"the steps ready now are {', '.join(ready)}"
    return ConflictError(
        f"步骤 {step_id} {labels.state(state, 'zh')}，不能再{'跳过' if skipping else '提交'}；{zh_next}",
        f"step {step_id} is already {state}; {en_next}",
        code="STEP_ALREADY_DONE",
        details={"step_id": step_id, "state": state, "ready_steps": list(ready)},
    )
