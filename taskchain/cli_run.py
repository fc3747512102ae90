"""``taskchain run``: a whole chain in one go, with its progress, Ctrl-C and ``--resume``."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from taskchain import views
from taskchain.cli_render import Args, as_json, error_line, prog, t, width
from taskchain.errors import InvalidRequestError
from taskchain.executors import StepTask
from taskchain.models import Session
from taskchain.report import model_cost
from taskchain.requests import ChainRequest, parse
from taskchain.runner import Attempt, Hooks
from taskchain.service import Service
from taskchain.states import StepState

OK, FAILED, INTERRUPTED = 0, 1, 130


class Progress:
    """A model run's progress on ``stream`` (stderr): on a terminal, one line redrawn in place
    (step i/n and name, attempt a/max, elapsed time, tokens so far); otherwise a plain line as
    each attempt starts and ends. Runs the builtin executor writes are not shown (they take
    milliseconds)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick: float = 1.0,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.began = clock()
        self.session: Session | None = None
        self._shown = False  # a model run: shown
        self._in_flight: dict[str, StepTask] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tick = tick
        self._ticker: threading.Thread | None = None
        self._drawn = False

    @property
    def hooks(self) -> Hooks:
        """The runner's callbacks that feed this display."""
        return Hooks(started=self._started, attempted=self._attempted)

    def close(self) -> None:
        """Stop redrawing and clear the line (the result is printed next)."""
        self._stop.set()
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False

    def _started(self, session: Session, tasks: list[StepTask]) -> None:
        with self._lock:
            self.session = session
            self._shown = session.definition.config.executor == "llm"
            if not self._shown:
                return
            self._in_flight.update((task.guidance.step_id, task) for task in tasks)
            if self.tty:
                self._draw()
                if self._ticker is None:
                    self._ticker = threading.Thread(target=self._redraw, daemon=True)
                    self._ticker.start()
            else:
                for task in tasks:
                    self._write(f"→ {self._step(task)} · {self._try(task)}")

    def _attempted(self, session: Session, attempt: Attempt) -> None:
        with self._lock:
            self.session = session
            task = self._in_flight.pop(attempt.step_id, None)
            if not self._shown or task is None:
                return
            if self.tty:
                self._draw()
            else:
                self._write(self._outcome(session, task, attempt))

    # --- what a line says ----------------------------------------------------------------

    def _lang(self) -> str | None:
        return self.session.language if self.session is not None else None

    def _step(self, task: StepTask) -> str:
        """``步骤 2/4 信息收集``."""
        assert self.session is not None
        ids = [s.id for s in self.session.definition.steps]
        where = f"{ids.index(task.guidance.step_id) + 1}/{len(ids)}"
        return t(self._lang(), f"步骤 {where} {task.guidance.name}", f"step {where} {task.guidance.name}")  # fmt: skip

    def _try(self, task: StepTask) -> str:
        """``第 1/3 次尝试``."""
        a, most = task.attempt, task.guidance.max_attempts
        return t(self._lang(), f"第 {a}/{most} 次尝试", f"attempt {a}/{most}")

    def _totals(self) -> str:
        """``已用 12 秒 · 3,456 token``: since the command started, and every step's tokens."""
        seconds = self.clock() - self.began
        cost = model_cost(self.session.records.values()) if self.session is not None else None
        tokens = cost.prompt_tokens + cost.completion_tokens if cost is not None else 0
        return t(self._lang(), f"已用 {seconds:.0f} 秒 · {tokens:,} token",
                 f"{seconds:.0f}s elapsed · {tokens:,} tokens")  # fmt: skip

    def _outcome(self, session: Session, task: StepTask, attempt: Attempt) -> str:
        """One line saying how an attempt ended."""
        lang, record = self._lang(), session.record(attempt.step_id)
        head = f"{self._step(task)} · {self._try(task)}"
        if record.state is StepState.COMPLETED:
            said = t(lang, f"✓ {head}：通过（{attempt.took:.1f} 秒）", f"✓ {head}: accepted ({attempt.took:.1f}s)")  # fmt: skip
        else:
            failed = [f.rule for f in record.feedback if not f.passed and f.severity == "error"]
            why = attempt.error or t(lang, "未通过 ", "failed ") + t(lang, "、", ", ").join(
                dict.fromkeys(failed)
            )
            said = f"✗ {head}{t(lang, '：', ': ')}{why}"
            if record.state is StepState.FAILED:
                said += t(
                    lang, "；尝试次数已用尽，该步骤失败", "; no attempts left, the step failed"
                )
        return f"{said} · {self._totals()}"

    def _line(self) -> str:
        """The in-place line: the first step in flight, how many more, and the totals."""
        if not self._in_flight:
            assert self.session is not None
            done = f"{views.progress(self.session).completed}/{len(self.session.definition.steps)}"
            return (
                f"{t(self._lang(), f'已完成 {done} 步', f'{done} steps done')} · {self._totals()}"
            )
        first, *more = self._in_flight.values()
        also = (
            t(self._lang(), f"（另有 {len(more)} 步进行中）", f" (+{len(more)} more)")
            if more
            else ""
        )
        return f"{self._step(first)}{also} · {self._try(first)} · {self._totals()}"

    # --- output --------------------------------------------------------------------------

    def _draw(self) -> None:
        """Redraw the line, cut to the terminal's width so that it never wraps."""
        columns = shutil.get_terminal_size((80, 24)).columns - 1
        text = ""
        for char in self._line():
            if width(text + char) > columns:
                break
            text += char
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._drawn = True

    def _redraw(self) -> None:
        """Keep the elapsed time moving while a model is thinking."""
        while not self._stop.wait(self._tick):
            with self._lock:
                if not self._stop.is_set():
                    self._draw()

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def run(service: Service, args: Args, payload: Callable[[], Any]) -> int:
    """``taskchain run``: a new run of the request ``payload()`` reads, or ``--resume`` one.

    The run is saved after every batch of attempts, so Ctrl-C loses only the attempts in flight:
    it prints the command that continues the run and exits 130.
    """
    if args.resume and (args.source or args.request_file or args.task_type or args.target
                        or args.executor):  # fmt: skip
        raise InvalidRequestError(
            "--resume 继续已保存的运行，不能同时给出新的请求（文件、--task-type、--target 或 --executor）",
            "--resume continues a stored run: give no new request with it (a file, --task-type, "
            "--target or --executor)",
            code="CONFLICTING_ARGUMENTS",
        )
    request = None if args.resume else parse(ChainRequest, payload())
    progress = Progress(sys.stderr)
    try:
        if request is None:
            view = service.continue_run(
                args.tenant, args.resume, end_user=args.user, hooks=progress.hooks
            )
            result = view.result or service.run_result(args.tenant, args.resume, end_user=args.user)
        else:
            result = service.run(request, tenant=args.tenant, end_user=args.user, hooks=progress.hooks)  # fmt: skip
    except KeyboardInterrupt:
        progress.close()
        session = progress.session
        lang = session.language if session is not None else args.language
        if session is None:
            print(t(lang, "已中断。", "Interrupted."), file=sys.stderr)
        else:
            again = f"{prog(args, 'run')} --resume {session.session_id}"
            print(t(lang, f"已中断：运行已保存，已完成的步骤不会重做。继续运行：{again}",
                    f"Interrupted: the run is saved, and finished steps are kept. To continue it: {again}"),
                  file=sys.stderr)  # fmt: skip
        _leave(INTERRUPTED)
        return INTERRUPTED
    finally:
        progress.close()
    return show(service, args, result.model_dump(mode="json"))


def show(service: Service, args: Args, body: dict[str, Any]) -> int:
    """Print a run's result (JSON, or the id and the Markdown report) and what to do next."""
    lang = args.language = body["final_report"]["language"]
    if args.json:
        print(as_json(body))
    else:
        report = service.report(args.tenant, body["session_id"], fmt="markdown")
        print(t(lang, "会话：", "Session: ") + body["session_id"])
        print(report.markdown)
    if not body["success"] and not body.get("next"):
        error_line(args, body)
    elif not body["success"]:  # stopped on its time budget: resumable
        again = f"{prog(args, 'run')} --resume {body['run_id']}"
        print(t(lang, f"本次运行已到时限（TASKCHAIN_RUN_BUDGET_S），进度已保存。继续运行：{again}",
                    f"This run reached its time budget (TASKCHAIN_RUN_BUDGET_S); its progress is "
                    f"saved. To continue it: {again}"), file=sys.stderr)  # fmt: skip
    if body["content"] == "outline" and service.default_executor != "llm" and not args.json:
        print(t(lang, "未配置模型：设置 TASKCHAIN_LLM_PROVIDER、TASKCHAIN_LLM_API_KEY 后重新运行即可得到真实作答（见 README）",
                "No model is configured: set TASKCHAIN_LLM_PROVIDER and TASKCHAIN_LLM_API_KEY and "
                "run again to get real answers (see the README)"), file=sys.stderr)  # fmt: skip
    return OK if body["success"] else FAILED


def _leave(code: int) -> None:
    """Exit at once when model requests are still in flight: their worker threads would hold
    the interpreter's exit until they end, and nothing they produce would be saved."""
    busy = [th for th in threading.enumerate() if not th.daemon and th is not threading.main_thread()]  # fmt: skip
    if busy:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
