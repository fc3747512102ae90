"""A stand-in model for runs: each step of the quality corpus's chain A (analysis, Chinese) is
answered with the corpus's good answer for it, as the fake OpenAI server's responder.

    server.responder = corpus_answers
    service = bootstrap(model_env(server))
    service.start_run(parse(ChainRequest, RUN), tenant="t")
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support.fake_openai import Behaviour, FakeOpenAI, RecordedRequest, answer

CORPUS = Path(__file__).resolve().parents[1] / "quality" / "corpus" / "analysis-zh"
GOOD = CORPUS / "good" / "A-bullets"
_CHAIN = json.loads((CORPUS / "chains.json").read_text(encoding="utf-8"))["A"]
STEPS = ("understand_goal", "gather_information", "analyse_in_depth", "synthesise_results")
MODEL = "fake-runs-1"
# The run every test starts: the corpus chain, written by the model.
RUN: dict[str, Any] = {
    "task_type": "analysis",
    "target": _CHAIN["target"],
    "config": {
        "depth": _CHAIN["depth"],
        "focus_areas": _CHAIN["focus_areas"],
        "executor": "llm",
    },
}
_POSITION = re.compile(r"当前步骤（(\d+)/\d+）")


def step_asked(request: RecordedRequest) -> str:
    """The step id a chat request asks the model to write."""
    found = _POSITION.search(request.body["messages"][-1]["content"])
    assert found, "no current step in the prompt"
    return STEPS[int(found.group(1)) - 1]


def corpus_answers(request: RecordedRequest) -> Behaviour:
    """The corpus's good answer to the step ``request`` asks for, with token usage."""
    text = (GOOD / f"{step_asked(request)}.md").read_text(encoding="utf-8")
    prompt = sum(len(m["content"]) for m in request.body["messages"])
    return answer(text, prompt_tokens=prompt, completion_tokens=len(text))


def model_env(
    server: FakeOpenAI, *, model: str = MODEL, key: str = "sk-test-runs", **extra: str
) -> dict[str, str]:
    """A memory-store environment whose model is ``server`` (no transport retries)."""
    return {
        "TASKCHAIN_STORE": "memory",
        "TASKCHAIN_LLM_PROVIDER": "custom",
        "TASKCHAIN_LLM_BASE_URL": server.base_url,
        "TASKCHAIN_LLM_MODEL": model,
        "TASKCHAIN_LLM_API_KEY": key,
        "TASKCHAIN_LLM_MAX_RETRIES": "0",
        **extra,
    }
