"""How the command line shows the service's answers to a person (Chinese by default)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from taskchain import labels
from taskchain.text import counted

Args = argparse.Namespace
Body = Mapping[str, Any]


def t(lang: str | None, zh: str, en: str) -> str:
    """Pick the text in ``lang`` (Chinese unless English)."""
    return en if lang == "en" else zh


def as_json(body: Body) -> str:
    """``body`` as indented JSON, Chinese kept readable."""
    return json.dumps(body, ensure_ascii=False, indent=2)


def prog(args: Args, command: str) -> str:
    """``taskchain <command>`` for hints, with ``--tenant`` when it is not the default one."""
    tenant = "" if args.tenant == "local" else f" --tenant {shlex.quote(args.tenant)}"
    return f"taskchain {command}{tenant}"


def error_line(args: Args, body: Body) -> None:
    """``错误 [CODE]: message`` on stderr."""
    print(f"{t(args.language, '错误', 'Error')} [{body['error_code']}]: {body['error']}", file=sys.stderr)  # fmt: skip


# --- rendering --------------------------------------------------------------------------


def progress(lang: str | None, view: Body) -> str:
    """``版本 2 · 状态 进行中 · 进度 1/4`` in ``lang`` (the status in its words)."""
    version, status, p = view["version"], view["status"], view["progress"]
    done = f"{p['completed']}/{p['total']}"
    said = labels.status(status, "en" if lang == "en" else "zh")
    return t(lang, f"版本 {version} · 状态 {said} · 进度 {done}",
              f"version {version} · status {said} · progress {done}")  # fmt: skip


def guidance(args: Args, view: Body, *, skip: str = "") -> list[str]:
    """Each ready step's instructions, followed by the command that submits its output."""
    lines: list[str] = []
    for step in (s for s in view["ready_steps"] if s["step_id"] != skip):
        lang, step_id = step["language"], step["step_id"]
        submit = f"{prog(args, 'submit')} {view['session_id']} {step_id} --file {t(lang, '输出.md', 'output.md')}"
        lines += ["", f"── {step['name']} ({step_id}) ──", step["instructions"],
                  f"{t(lang, '提交：', 'Submit: ')}{submit} --expected-version {view['version']}"]  # fmt: skip
    return lines


def render_start(args: Args, view: Body) -> str:
    lang = view["language"]
    head = [t(lang, "会话：", "Session: ") + view["session_id"], progress(lang, view)]
    return "\n".join(head + guidance(args, view))


def render_status(args: Args, view: Body) -> str:
    lang = view["language"]
    lines = [t(lang, "会话：", "Session: ") + view["session_id"], view["briefing"]]
    lines += guidance(args, view)
    if view["status"] != "active":
        lines.append(t(lang, "报告：", "Report: ") + f"{prog(args, 'report')} {view['session_id']}")
    return "\n".join(lines)


def render_submit(args: Args, view: Body) -> str:
    lang = view["language"]
    sid, step_id, left = view["session_id"], view["step_id"], view["attempts_left"]
    verdict = ("✓ 已接受", "✓ accepted") if view["accepted"] else ("✗ 未通过", "✗ rejected")
    lines = [f"{t(lang, *verdict)}: {step_id} (#{view['attempts']})"]
    repeated = {r for r in (f["rule"] for f in view["feedback"]) if sum(
        1 for g in view["feedback"] if g["rule"] == r) > 1}  # fmt: skip
    for f in view["feedback"]:  # a passed check is one mark: the failed ones need the words
        mark = "✓" if f["passed"] else ("✗" if f["severity"] == "error" else "!")
        # A rule that applies several times (one per focus area) says which one passed.
        words = not f["passed"] or f["rule"] in repeated
        lines.append(f"  {mark} [{f['rule']}]" + (f" {f['message']}" if words else ""))
        lines += [f"      → {f['hint']}"] if f["hint"] and not f["passed"] else []
    lines.append(progress(lang, view))
    if view["step_state"] == "ready":
        retry = t(
            lang,
            f"还可尝试 {left} 次，修改后重新提交：",
            f"{counted(left, 'attempt')} left; resubmit: ",
        )
        again = f"{prog(args, 'submit')} {sid} {step_id} --file ... --expected-version {view['version']}"
        lines.append(retry + again)
    elif view["step_state"] == "failed":
        lines.append(t(lang, "尝试次数已用尽，该步骤失败。", "No attempts left: the step failed."))
    lines += guidance(args, view, skip=step_id)
    if view["status"] != "active":
        done = t(lang, "任务链已结束；报告：", "The chain is finished; the report: ")
        lines.append(f"{done}{prog(args, 'report')} {sid}")
    return "\n".join(lines)


def width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render_sessions(args: Args, body: Body) -> str:
    if not body["sessions"]:
        return t(args.language, "没有会话。", "No sessions.")
    rows = [["id", "status", "progress", "created", "target"]] + [
        [s["session_id"], s["status"], f"{s['completed']}/{s['total']}",
         datetime.fromtimestamp(s["created_at"]).strftime("%Y-%m-%d %H:%M"), s["target"]]
        for s in body["sessions"]
    ]  # fmt: skip
    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([c + " " * (w - width(c)) for c, w in zip(r, widths, strict=False)] + [r[-1]])
             for r in rows]  # fmt: skip
    if body["next_cursor"]:
        more = f"{prog(args, 'sessions')} --cursor {body['next_cursor']}"
        lines.append(t(args.language, "更多：", "More: ") + more)
    return "\n".join(lines)


def render_templates(args: Args, body: Body) -> str:
    if not body["templates"]:
        return t(args.language, "没有匹配的模板。", "No matching templates.")
    sep = t(args.language, "、", ", ")
    return "\n\n".join(
        f"{t['key']}  {t['name']}  [{sep.join(t['tags'])}]\n  {t['description']}\n  "
        + " → ".join(s["name"] for s in t["steps"])
        for t in body["templates"]
    )


def render_capabilities(args: Args, body: Body) -> str:
    lang, count = args.language, body["count"]
    lines = [
        t(
            lang,
            f"{count} 项能力（前 10 项为标准能力，其余用于模板步骤）：",
            f"{count} capabilities (the first 10 are the standard ones, the rest serve template steps):",
        )
    ]
    for i, c in enumerate(body["capabilities"], 1):
        sections = t(lang, "、", ", ").join(c["sections"])
        lines.append(f"{i:>2}. {c['title']} ({c['key']}): {c['purpose']}")
        lines.append(t(lang, "    输出小节：", "    sections: ") + sections)
    return "\n".join(lines)
