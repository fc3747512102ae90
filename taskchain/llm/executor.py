"""The model executor: each attempt at a step is one chat completion, checked like a submit."""

from __future__ import annotations

import time
from collections.abc import Callable

from taskchain.config import ConfigError
from taskchain.executors import Answer, AttemptFailed, StepTask
from taskchain.llm.client import ChatClient, ModelError
from taskchain.llm.prompt import answer_text, messages
from taskchain.llm.settings import LlmSettings
from taskchain.models import Usage


class LlmExecutor:
    """Writes each step with an OpenAI-compatible model.

    The prompt is the step's own guidance (:mod:`taskchain.llm.prompt`); the runner checks the
    answer exactly as a guided submit is checked and retries a refused one with the failed
    checks' hints, up to the step's ``max_attempts``. A transport failure (after the client's
    own retries) is a failed attempt whose reason is recorded on the step.
    """

    name = "llm"
    concurrent = True
    writes_outlines = False
    context_apart = True  # earlier steps go into the prompt as a block of data

    def __init__(
        self,
        settings: LlmSettings,
        client: ChatClient | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.concurrency = settings.concurrency
        self._client = client or ChatClient(settings, clock=clock)
        self._clock = clock

    @property
    def model(self) -> str:
        """The configured model's name."""
        return self.settings.model

    def execute(self, task: StepTask) -> Answer:
        """One chat completion for ``task``'s step, within ``task.timeout`` seconds."""
        guidance = task.guidance  # built with the context apart (``context_apart`` below)
        try:
            done = self._client.complete(
                messages(task, guidance), deadline=self._clock() + task.timeout
            )
        except ConfigError as exc:  # the key could not be read (SSM): say so on the step
            raise AttemptFailed(
                exc.messages["zh"], exc.messages["en"], model=self.settings.model
            ) from None
        except ModelError as exc:
            raise AttemptFailed(
                exc.message("zh"),
                exc.message("en"),
                model=self.settings.model,
                usage=Usage(calls=exc.calls),
            ) from None
        return Answer(
            text=answer_text(done.text),
            model=done.model,
            usage=Usage(
                calls=done.calls,
                prompt_tokens=done.prompt_tokens or 0,
                completion_tokens=done.completion_tokens or 0,
                latency=round(done.latency, 6),
            ),
        )
