"""The words people read for step states, session statuses, executors and gap kinds, in the
session's language.

JSON fields keep their values (``"completed"``, ``"active"``, ``"builtin"``); text written for
people — briefings, reports, gap reasons, digests — says them with these words, so a Chinese
session reads no English token.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# value -> (Chinese, English)
_STATES = MappingProxyType(
    {
        "pending": ("未开始", "not started"),
        "ready": ("就绪", "ready"),
        "completed": ("已完成", "completed"),
        "failed": ("失败", "failed"),
        "skipped": ("已跳过", "skipped"),
    }
)
_STATUSES = MappingProxyType(
    {
        "active": ("进行中", "in progress"),
        "completed": ("已完成", "completed"),
        "completed_with_gaps": ("已结束，有缺口", "ended with gaps"),
        "failed": ("已终止", "failed"),
    }
)
# Who wrote a step's output: the builtin outline writer, the configured model (a run), or the
# caller of the guided flow (a model or a person submitting through the API or the CLI).
_EXECUTORS = MappingProxyType(
    {
        "builtin": ("内置提纲", "builtin outline"),
        "llm": ("模型", "model"),
        "guided": ("引导式提交", "guided submission"),
    }
)
_GAPS = MappingProxyType(
    {
        "step_skipped": ("跳过的步骤", "skipped step"),
        "step_failed": ("失败的步骤", "failed step"),
        "step_not_reached": ("未完成的步骤", "step not reached"),
        "focus_area_uncovered": ("未覆盖的关注点", "focus area not covered"),
    }
)


def _say(words: Mapping[str, tuple[str, str]], value: str, language: str) -> str:
    """``value`` in words of ``language``; an unknown value as itself, underscores as spaces."""
    pair = words.get(value)
    if pair is None:
        return value.replace("_", " ")
    return pair[1] if language == "en" else pair[0]


def state(value: str, language: str) -> str:
    """A step state in words: ``completed`` -> 已完成 / completed."""
    return _say(_STATES, value, language)


def status(value: str, language: str) -> str:
    """A session status in words: ``active`` -> 进行中 / in progress."""
    return _say(_STATUSES, value, language)


def executor(value: str, language: str) -> str:
    """Who wrote an output, in words: ``builtin`` -> 内置提纲 / builtin outline."""
    return _say(_EXECUTORS, value, language)


def gap(value: str, language: str) -> str:
    """A gap kind in words: ``step_not_reached`` -> 未完成的步骤 / step not reached."""
    return _say(_GAPS, value, language)
