"""The ``taskchain`` command line: parse the arguments, call the service, render its answer."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from taskchain import jsontext
from taskchain.bootstrap import bootstrap
from taskchain.cli_render import (
    as_json,
    error_line,
    render_capabilities,
    render_sessions,
    render_start,
    render_status,
    render_submit,
    render_templates,
    t,
)
from taskchain.cli_run import FAILED, INTERRUPTED, OK
from taskchain.cli_run import run as run_command
from taskchain.config import ConfigError
from taskchain.errors import (
    InvalidRequestError,
    TaskchainError,
    internal_error_body,
    may_concern_a_session,
    missing_field,
)
from taskchain.requests import ChainRequest, ReportFormat, SkipIn, SubmitIn, parse
from taskchain.service import Service

# Exit codes (also in --help): scripts branch on these, never on the text.
INVALID, REJECTED, NOT_FOUND, CONFLICT = 2, 3, 4, 5
_EXIT_BY_CATEGORY = {"VALIDATION_ERROR": INVALID, "NOT_FOUND": NOT_FOUND, "CONFLICT": CONFLICT}

_EPILOG = """\
every command takes --json (the service's answer as JSON), --tenant and --language zh|en.

exit codes:
  0  success (submit: the output was accepted)
  1  the chain failed, or an internal error (TASKCHAIN_DEBUG=1 shows the traceback)
  2  invalid request, invalid JSON input or invalid TASKCHAIN_* configuration
  3  submit: the output was rejected; the feedback says what to fix
  4  session not found (expired, deleted or another tenant's)
  5  conflict: stale --expected-version, step not ready or already finished
  130  run: interrupted (Ctrl-C); the run is saved: taskchain run --resume <run_id>

environment: TASKCHAIN_STORE (sqlite|memory), TASKCHAIN_HOME (where the SQLite file lives),
TASKCHAIN_TENANT, TASKCHAIN_SESSION_TTL_HOURS, TASKCHAIN_DEBUG; for run: TASKCHAIN_RUN_BUDGET_S
(seconds one run command works, default 840; then --resume), TASKCHAIN_LLM_PROVIDER,
TASKCHAIN_LLM_API_KEY, TASKCHAIN_LLM_MODEL, TASKCHAIN_LLM_BASE_URL (the model; see the README)."""

Args = argparse.Namespace
Body = Mapping[str, Any]


Handler = Callable[[Service, Args], int]


# --- input ------------------------------------------------------------------------------


def _names(source: str) -> tuple[str, str]:
    """How messages name ``source`` in Chinese (spaced from the words that follow) and English."""
    return ("标准输入", "stdin") if source == "-" else (f"{source} ", source)


def _read(source: str) -> str:
    """The UTF-8 text of a file, or of stdin for ``-``; ``UNREADABLE_INPUT`` otherwise."""
    zh, en = _names(source)
    try:
        if source == "-":
            return sys.stdin.buffer.read().decode("utf-8-sig")
        return Path(source).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        problem = ("不是 UTF-8 文本", "is not UTF-8 text")
    except OSError as exc:  # the system's words are English: the Chinese message names the case
        why = ("不存在" if isinstance(exc, FileNotFoundError) else "是一个目录，不是文件"
               if isinstance(exc, IsADirectoryError) else "没有读取权限"
               if isinstance(exc, PermissionError) else "无法读取")  # fmt: skip
        problem = (why, f"cannot be read ({exc.strerror})")
    raise InvalidRequestError(
        f"{zh}{problem[0]}", f"{en} {problem[1]}", code="UNREADABLE_INPUT", details={"source": en}
    )


def _read_json(source: str) -> Any:
    """The JSON document in a file or stdin; ``INVALID_JSON`` saying where it breaks."""
    text = _read(source)
    try:
        return jsontext.loads(text)
    except jsontext.UnusableJsonError as exc:  # nested too deep, a huge number, bad Unicode
        zh, en = _names(source)
        raise InvalidRequestError(
            f"{zh}不是有效的 JSON（{exc.reason[0]}）",
            f"{en} is not valid JSON ({exc.reason[1]})",
            code="INVALID_JSON",
            details={"source": en},
        ) from None
    except json.JSONDecodeError as exc:
        zh, en = _names(source)
        raise InvalidRequestError(
            f"{zh}不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）",
            f"{en} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            code="INVALID_JSON",
            details={"source": en, "line": exc.lineno, "column": exc.colno},
        ) from None


def _request(args: Args) -> Any:
    """The chain request: JSON in the original shape (file or stdin), flags applied on top."""
    source = args.request_file or args.source
    payload: Any = _read_json(source) if source else {}
    if not isinstance(payload, dict):
        return payload  # the service answers it with its own error
    top = {"task_type": args.task_type, "target": args.target}
    config = {"depth": args.depth, "focus_areas": args.focus, "language": args.language,
              "execution_mode": args.mode, "executor": getattr(args, "executor", None)}  # fmt: skip
    payload.update((k, v) for k, v in top.items() if v is not None)
    if any(v is not None for v in config.values()):
        old = payload.get("config")
        payload["config"] = {**(old if isinstance(old, dict) else {})}
        payload["config"].update((k, v) for k, v in config.items() if v is not None)
    if args.stop_on_failure:
        payload["continue_on_failure"] = False
    if args.language is None and isinstance(payload.get("config"), dict):
        # Errors about this request are worded in the request's language.
        asked = str(payload["config"].get("language", "")).strip().lower()
        args.language = "en" if asked.startswith("en") else None
    return payload


def _error_language(args: Args, service: Service | None, exc: TaskchainError) -> str:
    """``--language`` when given; else, for an error about a stored session (a command's
    ``session_id``, or ``run --resume``), that session's language; else Chinese."""
    session_id = getattr(args, "session_id", None) or getattr(args, "resume", None)
    if args.language or service is None or session_id is None or not may_concern_a_session(exc):
        return str(args.language or "zh")
    found = service.session_language(args.tenant, session_id, end_user=getattr(args, "user", None))
    return found or "zh"


def _fail(args: Args, body: Body) -> int:
    """Print an error body (on stdout with ``--json``, else one line on stderr); its exit code."""
    if args.json:
        print(as_json(body))
    else:
        error_line(args, body)
    return _EXIT_BY_CATEGORY.get(str(body.get("category")), FAILED)


def _command(call: Callable[[Service, Args], BaseModel], render: Callable[[Args, Body], str]) -> Handler:  # fmt: skip
    """A handler that calls the service and prints its answer (as JSON with ``--json``)."""

    def handle(service: Service, args: Args) -> int:
        body = call(service, args).model_dump(mode="json")
        print(as_json(body) if args.json else render(args, body))
        return REJECTED if body.get("accepted") is False else OK

    return handle


def _run(service: Service, args: Args) -> int:
    """A whole chain at once, or ``--resume`` a stored run (see :mod:`taskchain.cli_run`)."""
    return run_command(service, args, lambda: _request(args))


def _submit(service: Service, args: Args) -> BaseModel:
    """Submit the output given by ``--output``, a file, or piped stdin."""
    if args.output is not None:
        output = args.output
    elif args.file or args.source:
        output = _read(args.file or args.source)
    elif not sys.stdin.isatty():
        output = _read("-")
    else:
        raise missing_field("output")
    payload = {"output": output, "expected_version": args.expected_version}
    return service.submit(args.tenant, args.session_id, args.step_id, parse(SubmitIn, payload))


def _skip(service: Service, args: Args) -> BaseModel:
    """Skip a step with ``--reason``."""
    payload = {"reason": args.reason, "expected_version": args.expected_version}
    return service.skip(args.tenant, args.session_id, args.step_id, parse(SkipIn, payload))


def _report(service: Service, args: Args) -> BaseModel:
    fmt: ReportFormat = args.format or ("json" if args.json else "markdown")  # argparse's choices
    return service.report(args.tenant, args.session_id, fmt=fmt)


# --- parsing ----------------------------------------------------------------------------


def _serve(args: Args) -> int:
    """Run the local HTTP server (the same handler Lambda runs) until interrupted; an invalid
    configuration or an address that cannot be bound is one line on stderr and exit code 2."""
    from taskchain.http.local import run  # the entrypoint layer, loaded only for this command

    return run(args.host, args.port)


def _arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One ``add_argument`` call, as data."""
    return flags, options


_SESSION, _STEP = _arg("session_id"), _arg("step_id")
_VERSION = _arg("--expected-version", type=int, metavar="N", help="exit 5 unless the session is at version N")  # fmt: skip
_REQUEST = (
    _arg("source", nargs="?", metavar="FILE", help="request JSON in the original shape ('-': stdin)"),
    _arg("--request", dest="request_file", metavar="FILE", help="request JSON ('-': stdin); flags override its fields"),
    _arg("--task-type", help="analysis | creative | education | research | custom"),
    _arg("--target", help="the subject of the chain (分析对象)"),
    _arg("--depth", choices=("basic", "detailed", "comprehensive")),
    _arg("--focus", action="append", metavar="AREA", help="a focus area every step must cover (repeatable)"),
    _arg("--mode", choices=("sequential", "parallel")),
    _arg("--stop-on-failure", action="store_true", help="stop the chain at the first failed step"),
    _arg("--user", help="the end user the session belongs to"),
)  # fmt: skip
_COMMANDS: tuple[tuple[str, Handler, str, tuple[tuple[tuple[str, ...], dict[str, Any]], ...]], ...] = (
    ("run", _run, "run a whole chain at once and print its report (一次运行整条任务链); "
     "Ctrl-C saves it, --resume continues it", (*_REQUEST,
        _arg("--executor", choices=("llm", "builtin"),
             help="who writes the steps: llm (the configured model; the default when one is "
             "configured) or builtin (outlines to fill in)"),
        _arg("--resume", metavar="RUN_ID", help="continue a stored run (one that was interrupted or "
             "reached TASKCHAIN_RUN_BUDGET_S) and print its result"))),
    ("start", _command(lambda s, a: s.start(parse(ChainRequest, _request(a)), tenant=a.tenant, end_user=a.user),
                       render_start),
     "start a guided session; print the ready steps' instructions (开始引导式会话)", _REQUEST),
    ("status", _command(lambda s, a: s.status(a.tenant, a.session_id), render_status),
     "a session's briefing and the ready steps' instructions (会话进度)", (_SESSION,)),
    ("submit", _command(_submit, render_submit),
     "submit a step's output for checking (提交步骤输出); exit 3 when rejected", (
        _SESSION, _STEP,
        _arg("source", nargs="?", metavar="FILE", help="read the output from FILE ('-': stdin)"),
        _arg("--output", metavar="TEXT", help="the output text"),
        _arg("--file", metavar="PATH", help="read the output from PATH ('-': stdin; piped stdin is read too)"),
        _VERSION)),
    ("skip", _command(_skip, render_status),
     "skip a step, recording the reason as a gap (跳过步骤)", (
        _SESSION, _STEP, _arg("--reason", default="", metavar="TEXT", help="why it is skipped"), _VERSION)),
    ("report", _command(_report, lambda a, b: b.get("markdown") or as_json(b)), "a session's report (报告)", (
        _SESSION, _arg("--format", choices=("markdown", "json"), help="default markdown (json with --json)"))),
    ("sessions", _command(lambda s, a: s.list_sessions(a.tenant, end_user=a.user, limit=a.limit, cursor=a.cursor),
                          render_sessions),
     "list sessions, newest first (会话列表)", (
        _arg("--limit", type=int, default=20, metavar="N"), _arg("--cursor", metavar="C"),
        _arg("--user", metavar="U", help="only this end user's sessions"))),
    ("delete", _command(lambda s, a: s.delete(a.tenant, a.session_id),
                      lambda a, b: t(a.language, "已删除会话 ", "Deleted session ") + b["session_id"]),
     "delete a session (删除会话)", (_SESSION,)),
    ("templates", _command(lambda s, a: s.templates(language=a.language or "zh", category=a.category,
                                                    search=a.search), render_templates),
     "the built-in chain templates (内置模板)", (
        _arg("--search", metavar="S", help="text in the key, name, description or tags"),
        _arg("--category", metavar="C"))),
    ("capabilities", _command(lambda s, a: s.capabilities(language=a.language or "zh"), render_capabilities),
     "the capabilities: the ten standard ones and the template ones (能力)", ()),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every command takes ``--json``, ``--tenant`` and ``--language``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine output: the answer as JSON")
    common.add_argument(
        "--tenant",
        default=os.environ.get("TASKCHAIN_TENANT") or "local",
        help="whose sessions (default: $TASKCHAIN_TENANT or 'local')",
    )
    common.add_argument("--language", choices=("zh", "en"),
                        help="language of messages, and of a new chain (default: zh)")  # fmt: skip
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="taskchain",
        description="taskchain — 任务链控制器: walks an AI agent through a goal step by step, "
        "with objective checks and a traced report.",
        epilog=_EPILOG,
        formatter_class=raw,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler, text, arguments in _COMMANDS:
        p = sub.add_parser(name, parents=[common], help=text, description=text, epilog=_EPILOG,
                           formatter_class=raw)  # fmt: skip
        p.set_defaults(handler=handler)
        for flags, options in arguments:
            p.add_argument(*flags, **options)
    text = (
        "serve the HTTP API on 127.0.0.1 for curl, a browser or Coze via a tunnel (本地 HTTP 服务)"
    )
    serve = sub.add_parser("serve", help=text, description=text)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8080, help="port (default 8080; 0: any free port)"
    )
    serve.set_defaults(json=False, language=None)  # what main's error paths read
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the return value is the exit code (see ``--help``)."""
    for stream in (sys.stdout, sys.stderr):  # Chinese must print on any console or pipe
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8")
    args = build_parser().parse_args(argv)
    service: Service | None = None
    try:
        if args.command == "serve":  # builds the Lambda handler's own composition root
            return _serve(args)
        handler: Handler = args.handler
        service = bootstrap()
        return handler(service, args)
    except ConfigError as exc:  # start-up: the message names the variable
        _fail(args, exc.to_body(args.language or "zh"))
        return INVALID
    except TaskchainError as exc:
        args.language = _error_language(args, service, exc)  # error_line's own words follow it
        return _fail(args, exc.to_body(args.language))
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # the reader (head, less) left early: nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except Exception:
        if os.environ.get("TASKCHAIN_DEBUG") == "1":
            raise
        return _fail(args, internal_error_body(args.language or "zh"))


if __name__ == "__main__":
    sys.exit(main())
