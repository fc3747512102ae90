"""A stand-in model for the fake server: it reads a step's prompt and answers to its rules.

:func:`answering` returns a responder for :class:`~tests.support.fake_openai.FakeOpenAI` that
writes, for every chat request, an answer meeting the rules the prompt prints (sections, items,
reasoning links, rating words, focus areas, length, the goal named), as a careful model would.
It reads only the prompt, so it exercises what a real model gets. The answer itself comes from
:func:`tests.factories.good_output`, seeded by the step and the attempt, so answers never repeat.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.factories import good_output
from tests.support.fake_openai import Behaviour, RecordedRequest, answer

_STEP = re.compile(
    r"^(?:当前步骤（(\d+)/(\d+)）：(.+?)（|Current step \((\d+)/(\d+)\): (.+?) \()", re.M
)
_RULE = re.compile(r"^- \[([^\]]+)\] (.+)$", re.M)
OPEN = "<earlier_steps>"
_ATTEMPT = re.compile(r"(?:这是第 (\d+) 次尝试|This is attempt (\d+))")


def prompt_of(request: RecordedRequest) -> tuple[str, str]:
    """The system and user messages of a chat request."""
    messages = request.body["messages"]
    return messages[0]["content"], messages[-1]["content"]


def step_of(request: RecordedRequest) -> tuple[int, int, str]:
    """``(position, total, name)`` of the step a request is about."""
    return step_of_text(prompt_of(request)[1])


def step_of_text(user: str) -> tuple[int, int, str]:
    """``(position, total, name)`` of the step a prompt's user message is about."""
    found = _STEP.search(user)
    assert found, "no current step in the prompt"
    zh = found.group(1) is not None
    pos, total, name = found.group(*((1, 2, 3) if zh else (4, 5, 6)))
    return int(pos), int(total), name


def guidance_from_prompt(user: str) -> dict[str, Any]:
    """What a model reads off a prompt, in the shape :func:`good_output` takes."""
    zh = user.startswith("总目标")
    quote = r"「(.+?)」" if zh else r"'(.+?)'"
    pos, _, name = step_of_text(user)
    rules: list[dict[str, Any]] = []
    sections: list[str] = []
    focus: list[str] = []
    min_length = 0
    # The rules are in the instructions: before the earlier steps' block and the retry's notes.
    instructions = _ATTEMPT.split(user.split(OPEN)[0])[0]
    for rule, text in _RULE.findall(instructions):
        title = re.search(quote, text)
        if rule == "min_length":
            min_length = int(re.search(r"\d+", text).group(0))  # type: ignore[union-attr]
        elif rule.startswith("section:") and title:
            sections.append(title.group(1))
        elif rule == "focus_area" and title:
            focus.append(title.group(1))
        elif items := re.search(r"至少 (\d+) 条分开的条目|at least (\d+) separate items", text):
            count = int(items.group(1) or items.group(2))
            section = title.group(1) if title else None
            rules.append({"kind": "min_items", "section": section, "min_items": count})
        elif re.search(r"把推理一步步写出来|shows the reasoning", text):
            rules.append({"kind": "reasoning", "section": title.group(1) if title else None})
        elif groups := re.findall(r"（([^（）]+)）" if zh else r"states (.+?) \(any one", text):
            if not zh:
                groups = groups[0].split(" and ")
            rules.append(
                {
                    "kind": "mentions",
                    "section": title.group(1) if title else None,
                    "groups": [g.split("/") for g in groups],
                }
            )
    attempt = _ATTEMPT.search(user)
    return {
        "step_id": f"{pos}:{name}",
        "name": name,
        "language": "zh" if zh else "en",
        "instructions": user,
        "required_sections": sections,
        "focus_areas": focus,
        "rules": rules,
        "min_length": min_length,
        "variant": (attempt.group(1) or attempt.group(2)) if attempt else "1",
    }


def good_answer(request: RecordedRequest) -> str:
    """An answer to ``request``'s step that meets every rule its prompt prints."""
    g = guidance_from_prompt(prompt_of(request)[1])
    return good_output(g, variant=g["variant"])


def answering(
    *,
    delay: float = 0.0,
    tokens: bool = True,
    override: Callable[[RecordedRequest], Behaviour | None] | None = None,
) -> Callable[[RecordedRequest], Behaviour]:
    """A responder answering every request well (after ``delay`` s), with usage when ``tokens``.

    ``override`` may answer a request differently (return a behaviour) or pass (``None``).
    """

    def respond(request: RecordedRequest) -> Behaviour:
        if override is not None and (special := override(request)) is not None:
            return special
        text = good_answer(request)
        system, user = prompt_of(request)
        usage = {"prompt_tokens": len(system) + len(user), "completion_tokens": len(text)}
        return answer(text, delay=delay, **(usage if tokens else {}))

    return respond
