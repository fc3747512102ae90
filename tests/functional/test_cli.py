"""The ``taskchain`` command line as a user drives it: real processes, one SQLite file."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.factories import good_output
from tests.support.answers import answering, step_of
from tests.support.fake_openai import Behaviour, FakeOpenAI, RecordedRequest, answer

TARGET = "一家社区咖啡店是否应该推出会员订阅制"
REQUEST = {
    "task_type": "analysis",
    "target": TARGET,
    "config": {"depth": "detailed", "focus_areas": ["成本", "客户留存"], "language": "zh"},
}
STANDARD = ("理解分析", "需求提取", "信息检索", "数据整理", "创意生成",
            "逻辑推理", "方案设计", "风险评估", "质量验证", "结果整合")  # fmt: skip
FLAGS = ("--task-type", "analysis", "--target", TARGET, "--focus", "成本", "--focus", "客户留存")


class Cli:
    """Runs the ``taskchain`` console script in a fresh process against one home directory."""

    def __init__(self, home: Path) -> None:
        script = Path(sys.executable).with_name("taskchain")
        self.command = [str(script)] if script.exists() else [sys.executable, "-m", "taskchain.cli"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKCHAIN_", "AWS_"))}
        self.env |= {"TASKCHAIN_HOME": str(home), "PYTHONIOENCODING": "ascii"}

    def __call__(
        self, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            encoding="utf-8",
            env=self.env | env,
            timeout=30,
            check=False,
        )

    def json(self, *args: str, stdin: str | None = None, **env: str) -> tuple[int, dict[str, Any]]:
        """Exit code and parsed stdout of a ``--json`` invocation."""
        done = self(*args, "--json", stdin=stdin, **env)
        return done.returncode, json.loads(done.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    # PYTHONIOENCODING=ascii: the CLI itself must switch its output to UTF-8.
    return Cli(tmp_path)


def start(cli: Cli) -> dict[str, Any]:
    code, view = cli.json("start", *FLAGS)
    assert code == 0, view
    return view


def test_run_prints_the_markdown_report_after_the_session_id(cli: Cli) -> None:
    done = cli("run", *FLAGS)

    assert done.returncode == 0, done.stderr
    first, _, markdown = done.stdout.partition("\n")
    assert re.fullmatch(r"会话：[0-9a-f]{32}", first)
    assert markdown.startswith(f"# 任务链报告：{TARGET}")
    assert "```mermaid" in markdown
    assert "客户留存" in markdown


def test_run_json_from_stdin_answers_in_the_original_shape(cli: Cli) -> None:
    code, body = cli.json("run", "-", stdin=json.dumps(REQUEST, ensure_ascii=False))

    assert code == 0
    assert body["success"] is True
    assert body["task_type"] == "analysis"
    assert body["target"] == TARGET
    assert [r["status"] for r in body["execution_results"]] == ["completed"] * 4
    assert {"executive_summary", "key_findings", "recommendations"} <= body["final_report"].keys()
    assert body["execution_summary"]["total_tasks"] == 4


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        ({"task_type": "poetry", "target": TARGET}, "INVALID_TASK_TYPE"),
        ({"target": TARGET}, "MISSING_REQUIRED_FIELD"),
    ],
)
def test_run_json_with_a_bad_request_answers_success_false(
    cli: Cli, request_body: dict[str, Any], code: str
) -> None:
    exit_code, body = cli.json("run", "-", stdin=json.dumps(request_body))

    assert exit_code == 2
    assert body["success"] is False
    assert body["error_code"] == code


def test_invalid_json_input_is_a_clear_validation_error(cli: Cli) -> None:
    done = cli("run", "-", stdin='{"task_type": "analysis",')

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("错误 [INVALID_JSON]: 标准输入不是有效的 JSON（第 1 行第 26 列）")
    assert "Traceback" not in done.stderr
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+", done.stderr)  # no English parser message


@pytest.mark.parametrize(
    ("language", "says"),
    [("zh", "missing.json 不存在"), ("en", "missing.json cannot be read (No such file")],
)
def test_an_unreadable_input_file_is_named_in_the_sessions_language(
    cli: Cli, language: str, says: str
) -> None:
    done = cli("run", "missing.json", "--language", language)

    assert done.returncode == 2
    assert says in done.stderr, done.stderr
    if language == "zh":
        assert not re.search(r"[A-Za-z]+ [A-Za-z]+", done.stderr)


def test_guided_session_runs_to_completion_across_processes(cli: Cli, tmp_path: Path) -> None:
    # GIVEN a guided session started by one process
    view = start(cli)
    session_id, version = view["session_id"], view["version"]
    step = view["ready_steps"][0]
    assert step["step_id"] == "understand_goal"

    # WHEN a too-short output is submitted, THEN it is rejected with feedback (exit 3)
    done = cli("submit", session_id, step["step_id"], "--output", "会员制可以提高客户留存。")
    assert done.returncode == 3, done.stderr
    assert "✗ 未通过" in done.stdout
    assert re.search(r"✗ \[min_length\] 篇幅 \d+ 个单位，要求至少 150\n", done.stdout)
    assert "✗ [section:core_question] 没有找到小节「核心问题」" in done.stdout
    assert "→ 加一行标题“## 核心问题”" in done.stdout  # the hint says what to fix
    version += 1

    # WHEN good outputs are submitted, each by a new process, until no step is ready
    ready = [step]
    submitted = []
    while ready:
        step = ready[0]
        path = tmp_path / f"{step['step_id']}.md"
        path.write_text(good_output(step), encoding="utf-8")
        args = ["submit", session_id, step["step_id"], "--expected-version", str(version)]
        if submitted:
            code, result = cli.json(*args, "--file", str(path))
        else:  # the first one through a pipe, as a model's tool would send it
            code, result = cli.json(*args, stdin=path.read_text(encoding="utf-8"))
        assert code == 0, [f for f in result.get("feedback", []) if not f["passed"]] or result
        assert result["accepted"] is True
        submitted.append(step["step_id"])
        version, ready = result["version"], result["ready_steps"]
    assert submitted == [
        "understand_goal",
        "gather_information",
        "analyse_in_depth",
        "synthesise_results",
    ]

    # THEN status shows the session completed, and the report is Markdown with its trace
    done = cli("status", session_id)
    assert done.returncode == 0
    assert "进度：4/4 步已完成，状态：已完成" in done.stdout
    done = cli("report", session_id)
    assert done.returncode == 0
    assert done.stdout.startswith(f"# 任务链报告：{TARGET}")
    assert "```mermaid" in done.stdout


def test_submit_prints_the_feedback_and_the_next_steps_instructions(cli: Cli) -> None:
    view = start(cli)
    step = view["ready_steps"][0]

    done = cli("submit", view["session_id"], step["step_id"], stdin=good_output(step))

    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("✓ 已接受: understand_goal")
    assert "  ✓ [section:core_question]\n" in done.stdout
    assert "✗" not in done.stdout
    assert "版本 2 · 状态 进行中 · 进度 1/4" in done.stdout
    assert "── 信息收集 (gather_information) ──" in done.stdout
    assert "当前步骤（2/4）：信息收集" in done.stdout


def test_a_rejected_submit_hints_the_resubmit_with_the_current_version(cli: Cli) -> None:
    view = start(cli)
    sid, step_id = view["session_id"], view["ready_steps"][0]["step_id"]

    done = cli("submit", sid, step_id, "--expected-version", "1", "--output", "还没想好。")

    assert done.returncode == 3
    [hint] = [line for line in done.stdout.splitlines() if line.startswith("还可尝试")]
    assert hint.endswith(f"{sid} {step_id} --file ... --expected-version 2"), hint


def test_a_stale_expected_version_is_a_conflict(cli: Cli) -> None:
    view = start(cli)
    step_id = view["ready_steps"][0]["step_id"]
    assert cli("skip", view["session_id"], step_id, "--reason", "已有结论").returncode == 0

    done = cli("submit", view["session_id"], "gather_information", "--expected-version", "1",
               "--output", "内容")  # fmt: skip

    assert done.returncode == 5
    assert done.stderr.startswith("错误 [STALE_VERSION]")


def test_sessions_lists_a_session_until_it_is_deleted(cli: Cli) -> None:
    session_id = start(cli)["session_id"]

    listing = cli("sessions")
    assert listing.returncode == 0
    header, row = listing.stdout.splitlines()[:2]
    assert header.split() == ["id", "status", "progress", "created", "target"]
    assert row.startswith(session_id)
    assert "active" in row
    assert "0/4" in row
    assert row.endswith(TARGET)

    assert cli("delete", session_id).returncode == 0
    code, body = cli.json("status", session_id)
    assert code == 4
    assert body["error_code"] == "SESSION_NOT_FOUND"


def test_unknown_session_message_follows_the_language(cli: Cli) -> None:
    done = cli("status", "no-such-session", "--language", "en")

    assert done.returncode == 4
    assert done.stderr.startswith("Error [SESSION_NOT_FOUND]: no session no-such-session")


def test_errors_about_an_english_session_are_in_english_without_language_flags(cli: Cli) -> None:
    # GIVEN an English session (the CLI's default language is zh)
    code, view = cli.json(
        "start", "--task-type", "analysis", "--language", "en",
        "--target", "Should a neighbourhood café launch a coffee subscription?",
    )  # fmt: skip
    assert code == 0, view
    sid = view["session_id"]
    # WHEN commands about it fail, in the service and in the CLI's own checks, with no --language
    not_ready = cli("submit", sid, "analyse_in_depth", "--output", "x")
    empty = cli("submit", sid, "understand_goal", "--output", "")
    too_long = cli("skip", sid, "understand_goal", "--reason", "r" * 501)
    as_json = cli.json("submit", sid, "nope", "--output", "x")
    # THEN each is worded in the session's language; --language still chooses when given
    assert (not_ready.returncode, empty.returncode, too_long.returncode) == (5, 2, 2)
    assert not_ready.stderr.startswith(
        "Error [STEP_NOT_READY]: step analyse_in_depth is not ready: finish understand_goal first"
    )
    assert empty.stderr.startswith("Error [MISSING_REQUIRED_FIELD]: missing required field: output")
    assert too_long.stderr.startswith("Error [INVALID_FIELD]: invalid field reason")
    assert as_json == (4, {**as_json[1], "error": "no step nope"})
    asked = cli("submit", sid, "nope", "--output", "x", "--language", "zh")
    assert asked.stderr.startswith("错误 [STEP_NOT_FOUND]: 没有步骤 nope")


def test_an_invalid_store_setting_names_the_variable(cli: Cli) -> None:
    done = cli("sessions", TASKCHAIN_STORE="postgres")

    assert done.returncode == 2
    assert "TASKCHAIN_STORE" in done.stderr
    assert "Traceback" not in done.stderr


def test_templates_search_finds_the_analysis_chain(cli: Cli) -> None:
    done = cli("templates", "--search", "分析")

    assert done.returncode == 0
    assert done.stdout.startswith("analysis  系统分析")
    assert "理解目标 → 信息收集 → 深度分析 → 结果综合" in done.stdout


def test_capabilities_lists_the_ten_standard_capabilities(cli: Cli) -> None:
    done = cli("capabilities")
    _, body = cli.json("capabilities")

    assert done.returncode == 0
    numbered = re.findall(r"^\s*(\d+)\. (\S+)", done.stdout, flags=re.MULTILINE)
    assert [int(n) for n, _ in numbered] == list(range(1, body["count"] + 1))
    assert body["count"] == len(body["capabilities"]) >= 10
    assert done.stdout.startswith(f"{body['count']} 项能力（前 10 项为标准能力")
    # The ten standard capabilities first, in order; then the ones the templates add.
    assert [name for _, name in numbered][:10] == list(STANDARD)
    assert [name for _, name in numbered] == [c["name"] for c in body["capabilities"]]


def test_serve_answers_http_on_loopback_until_stopped(cli: Cli) -> None:
    # GIVEN `taskchain serve` on a free port, anonymous for local development
    env = cli.env | {"TASKCHAIN_ALLOW_ANONYMOUS": "true", "PYTHONIOENCODING": "utf-8"}
    with subprocess.Popen(
        [*cli.command, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        encoding="utf-8",
        env=env,
    ) as server:
        try:
            assert server.stdout is not None
            url = None
            for _ in range(10):  # log lines (JSON) may come before the URL line
                url = url or re.search(r"http://127\.0\.0\.1:\d+", server.stdout.readline())
            assert url, "serve did not print its URL"
            # WHEN a client starts a session over HTTP
            request = urllib.request.Request(
                url.group(0) + "/v1/sessions",
                data=json.dumps(REQUEST, ensure_ascii=False).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                body = json.loads(response.read())
            # THEN the session is created in the same SQLite home the CLI uses
            assert response.status == 201
            assert body["ready_steps"][0]["step_id"] == "understand_goal"
        finally:
            server.terminate()
            server.wait(timeout=10)
    listed = cli.json("sessions")[1]["sessions"]
    assert [s["session_id"] for s in listed] == [body["session_id"]]


def test_submit_names_each_focus_area_that_passed() -> None:
    import argparse

    from taskchain.cli_render import render_submit

    feedback = [
        {
            "rule": "focus_area",
            "passed": True,
            "severity": "error",
            "message": "关注点「成本」有具体讨论",
            "hint": "",
        },
        {
            "rule": "focus_area",
            "passed": True,
            "severity": "error",
            "message": "关注点「客流」有具体讨论",
            "hint": "",
        },
        {
            "rule": "no_filler",
            "passed": True,
            "severity": "error",
            "message": "空话占 0%",
            "hint": "",
        },
    ]
    view = {
        "ready_steps": [], "session_id": "s", "step_id": "a", "language": "zh", "attempts_left": 2, "accepted": True,
        "attempts": 1, "feedback": feedback, "step_state": "completed", "status": "active",
        "version": 2, "progress": {"completed": 1, "total": 4},
    }  # fmt: skip
    text = render_submit(argparse.Namespace(language="zh", tenant="local"), view)
    assert "关注点「成本」有具体讨论" in text
    assert "关注点「客流」有具体讨论" in text
    assert "空话占 0%" not in text  # a rule that applies once is one mark


# --- runs a model writes: --executor, progress, the budget, Ctrl-C and --resume --------------


def model_env(server: FakeOpenAI, **extra: str) -> dict[str, str]:
    """The variables that point the CLI at the fake model ``server``."""
    return {
        "TASKCHAIN_LLM_PROVIDER": "custom",
        "TASKCHAIN_LLM_BASE_URL": server.base_url,
        "TASKCHAIN_LLM_MODEL": "fake-7b",
        "TASKCHAIN_LLM_API_KEY": "sk-cli-0d3b7a95e2c14f68",
        "TASKCHAIN_LLM_MAX_RETRIES": "0",
        **extra,
    }


def asked(server: FakeOpenAI) -> list[int]:
    """The step positions the server was asked for, in order."""
    return [step_of(r)[0] for r in server.requests]


def test_run_with_the_llm_executor_prints_the_models_report(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    fake_openai.responder = answering()

    done = cli("run", *FLAGS, "--executor", "llm", **model_env(fake_openai))

    assert done.returncode == 0, done.stderr
    first, _, markdown = done.stdout.partition("\n")
    assert re.fullmatch(r"会话：[0-9a-f]{32}", first)
    assert markdown.startswith(f"# 任务链报告：{TARGET}")
    assert "提纲" not in markdown  # real answers, not an outline
    assert asked(fake_openai) == [1, 2, 3, 4]
    assert "未配置模型" not in done.stderr


def test_progress_is_a_plain_line_per_attempt_when_stderr_is_not_a_terminal(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    fake_openai.responder = answering()

    done = cli("run", *FLAGS, "--json", **model_env(fake_openai))

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["content"] == "answers"  # stdout stays pure JSON
    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr
    assert lines[0] == "→ 步骤 1/4 理解目标 · 第 1/3 次尝试"
    assert re.fullmatch(
        r"✓ 步骤 1/4 理解目标 · 第 1/3 次尝试：通过（\d+\.\d 秒） · 已用 \d+ 秒 · [\d,]+ token",
        lines[1],
    )
    assert len(lines) == 8
    assert lines[-1].startswith("✓ 步骤 4/4 结果综合")


def test_a_refused_attempt_is_shown_with_the_rules_it_failed(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    good = answering()
    fake_openai.responder = lambda r: (
        answer("还没想好。") if len(fake_openai.requests) == 1 else good(r)
    )

    done = cli("run", *FLAGS, **model_env(fake_openai))

    assert done.returncode == 0, done.stderr
    refused = done.stderr.splitlines()[1]
    assert refused.startswith("✗ 步骤 1/4 理解目标 · 第 1/3 次尝试：未通过 min_length、")
    assert "→ 步骤 1/4 理解目标 · 第 2/3 次尝试" in done.stderr


def test_the_progress_line_is_redrawn_in_place_on_a_terminal(fake_openai: FakeOpenAI) -> None:
    import io

    from taskchain.bootstrap import bootstrap
    from taskchain.cli_run import Progress
    from taskchain.requests import ChainRequest, parse

    fake_openai.responder = answering()
    service = bootstrap({"TASKCHAIN_STORE": "memory", **model_env(fake_openai)})
    stream = io.StringIO()
    progress = Progress(stream, tty=True)

    service.run(parse(ChainRequest, REQUEST), tenant="t", hooks=progress.hooks)
    progress.close()

    shown = stream.getvalue()
    assert "\n" not in shown  # one line, redrawn
    frames = shown.split("\r\x1b[K")
    assert "步骤 1/4 理解目标 · 第 1/3 次尝试 · 已用 0 秒 · 0 token" in frames
    assert any(re.fullmatch(r"已完成 4/4 步 · 已用 \d+ 秒 · [\d,]+ token", f) for f in frames)
    assert frames[-1] == ""  # cleared before the result is printed


def test_run_uses_the_configured_model_by_default_and_builtin_on_request(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    fake_openai.responder = answering()

    code, body = cli.json("run", *FLAGS, "--executor", "builtin")
    assert (code, body["content"]) == (0, "outline")

    done = cli("run", *FLAGS, "--json", "--executor", "builtin", **model_env(fake_openai))
    assert (done.returncode, json.loads(done.stdout)["content"]) == (0, "outline")
    assert fake_openai.requests == []
    assert done.stderr == ""  # no progress for outlines, and a model is configured


def test_the_llm_executor_without_a_model_is_a_clear_request_error(cli: Cli) -> None:
    done = cli("run", *FLAGS, "--executor", "llm")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("错误 [EXECUTOR_UNAVAILABLE]: 没有配置模型")
    assert "TASKCHAIN_LLM_PROVIDER" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli.json("sessions")[1]["sessions"] == []


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("zh", "未配置模型：设置 TASKCHAIN_LLM_PROVIDER、TASKCHAIN_LLM_API_KEY 后重新运行即可得到真实作答（见 README）"),
        ("en", "No model is configured: set TASKCHAIN_LLM_PROVIDER and TASKCHAIN_LLM_API_KEY and run again to get real answers (see the README)"),
    ],
)  # fmt: skip
def test_an_outline_run_without_a_model_says_in_one_line_how_to_configure_one(
    cli: Cli, language: str, line: str
) -> None:
    done = cli("run", *FLAGS, "--language", language)

    assert done.returncode == 0
    assert done.stderr.splitlines() == [line]
    assert cli("run", *FLAGS, "--json").stderr == ""  # machine output: no advice


def test_a_run_stopped_by_its_budget_says_how_to_resume_and_resume_finishes_it(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    # GIVEN answers that take 0.4 s and a 1 s budget per command
    fake_openai.responder = answering(delay=0.4)
    env = model_env(fake_openai, TASKCHAIN_RUN_BUDGET_S="1")

    # WHEN the run stops on its budget
    done = cli("run", *FLAGS, **env)

    # THEN it prints the partial report and the exact command that continues it
    assert done.returncode == 1
    run_id = done.stdout.splitlines()[0].removeprefix("会话：")
    again = f"继续运行：taskchain run --resume {run_id}"
    assert done.stderr.splitlines()[-1].endswith(again), done.stderr
    finished = {int(n) for n in re.findall(r"✓ 步骤 (\d)/4", done.stderr)}
    assert 1 <= len(finished) < 4

    # WHEN it is resumed with time enough
    resumed = cli("run", "--resume", run_id, **(env | {"TASKCHAIN_RUN_BUDGET_S": "60"}))

    # THEN it prints the finished run like `run`, and no finished step was asked for again
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"会话：{run_id}\n# 任务链报告：{TARGET}")
    assert all(asked(fake_openai).count(n) == 1 for n in finished)
    assert sorted(set(asked(fake_openai))) == [1, 2, 3, 4]

    # AND resuming an ended run prints its result in the one-shot shape, asking nothing more
    count = len(fake_openai.requests)
    code, body = cli.json("run", "--resume", run_id, **env)
    assert (code, body["success"], body["run_id"]) == (0, True, run_id)
    assert [r["status"] for r in body["execution_results"]] == ["completed"] * 4
    assert len(fake_openai.requests) == count


def test_ctrl_c_saves_the_run_and_resume_does_not_redo_finished_steps(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    # GIVEN a model that answers steps 1 and 2 at once and takes its time over step 3
    good = answering()

    def respond(request: RecordedRequest) -> Behaviour:
        slow = step_of(request)[0] == 3 and asked(fake_openai).count(3) == 1
        return dataclasses.replace(good(request), delay=30) if slow else good(request)

    fake_openai.responder = respond
    env = cli.env | model_env(fake_openai) | {"PYTHONIOENCODING": "utf-8"}
    with subprocess.Popen(
        [*cli.command, "run", *FLAGS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        encoding="utf-8", env=env,
    ) as process:  # fmt: skip
        # WHEN Ctrl-C comes while step 3 waits on the model
        deadline = time.monotonic() + 20
        while asked(fake_openai) != [1, 2, 3] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert asked(fake_openai) == [1, 2, 3]
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)

    # THEN the command says the run is saved and how to continue it, and exits 130 at once
    assert process.returncode == 130, err
    assert out == ""
    [run_id] = re.findall(r"[0-9a-f]{32}", err)
    assert err.splitlines()[-1] == (
        f"已中断：运行已保存，已完成的步骤不会重做。继续运行：taskchain run --resume {run_id}"
    )
    assert "Traceback" not in err

    # WHEN it is resumed, THEN it finishes, asking only for the steps not yet done
    done = cli("run", "--resume", run_id, "--json", **model_env(fake_openai))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["success"] is True
    assert asked(fake_openai) == [1, 2, 3, 3, 4]


def test_resume_refuses_a_new_request_and_an_unknown_run(cli: Cli) -> None:
    done = cli("run", "--resume", "abc", "--task-type", "analysis")
    assert done.returncode == 2
    assert done.stderr.startswith("错误 [CONFLICTING_ARGUMENTS]: --resume 继续已保存的运行")

    done = cli("run", "--resume", "no-such-run")
    assert done.returncode == 4
    assert done.stderr.startswith("错误 [RUN_NOT_FOUND]")


def test_an_english_session_is_answered_in_english_to_its_end_without_language_flags(
    cli: Cli, tmp_path: Path
) -> None:
    # GIVEN an English session, and submits that name no --language (the CLI's default is zh)
    code, view = cli.json(
        "start", "--task-type", "analysis", "--language", "en", "--focus", "cost",
        "--target", "Should a neighbourhood café launch a coffee subscription?",
    )  # fmt: skip
    assert code == 0, view
    ready, printed = view["ready_steps"], []
    # WHEN every step is submitted until the chain is finished
    while ready:
        step = ready[0]
        path = tmp_path / f"{step['step_id']}.md"
        path.write_text(good_output(step), encoding="utf-8")
        done = cli("submit", view["session_id"], step["step_id"], "--file", str(path))
        assert done.returncode == 0, done.stdout
        printed.append(done.stdout)
        ready = cli.json("status", view["session_id"])[1]["ready_steps"]
    # THEN every answer, the one that finishes the chain included, is wholly English
    assert "The chain is finished" in printed[-1]
    assert not [text for text in printed if re.search(r"[\u4e00-\u9fff]", text)]
