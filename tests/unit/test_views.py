"""What callers read of a session: the briefing names states and statuses in its language."""

from __future__ import annotations

from taskchain import engine
from taskchain.views import session_view
from tests.factories import T0, build_chain, custom_step, passing_output, start_chain


def briefing(language: str) -> str:
    """The briefing of an open chain with one step completed and one skipped."""
    definition, registry = build_chain(
        steps=[custom_step("a"), custom_step("b"), custom_step("c", "a")],
        language=language,
        execution_mode="parallel",
    )
    session = start_chain(definition)
    session = engine.submit(session, "a", passing_output(session, "a", registry), now=T0 + 60,
                            registry=registry).session  # fmt: skip
    session = engine.skip(session, "b", "", now=T0 + 120)
    assert session.status == "active"
    return session_view(session, registry).briefing


def test_a_chinese_briefing_names_the_status_and_step_states_in_chinese() -> None:
    said = briefing("zh")

    assert "状态：进行中" in said, said
    assert "- [已完成] 步骤 a：" in said, said
    assert "- [已跳过] 步骤 b：" in said, said
    for english in ("active", "completed", "skipped"):
        assert english not in said, said


def test_an_english_briefing_names_the_status_in_words() -> None:
    said = briefing("en")

    assert "status: in progress" in said, said
    assert "- [completed] 步骤 a: " in said, said
