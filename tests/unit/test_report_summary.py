"""The report's executive summary: its main conclusions read as plain text, come from the
sections that conclude, leave lead-ins out, and its counts agree with their numbers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from taskchain import chain, engine, report
from taskchain.report import QualityMetrics
from taskchain.report_summary import summary
from tests.factories import (
    T0,
    answered,
    build_chain,
    complete_step,
    custom_step,
    make_session,
    start_chain,
)

MARKUP = re.compile(r"[|*]")


def main_conclusions(built: report.Report) -> str:
    """The summary's sentence of main conclusions."""
    said = built.executive_summary
    start = said.index("主要结论：" if built.language == "zh" else "Main conclusions: ")
    end = said.index("。" if built.language == "zh" else ". ", start)
    return said[start:end]


def one_step(capabilities: list[str], language: str) -> list[dict[str, Any]]:
    return [custom_step("s", capabilities=capabilities, name="风险分析" if language == "zh"
                        else "Risks")]  # fmt: skip


# --- quoted as plain text --------------------------------------------------------------------

RISK_TABLES = {
    "zh": "## 风险清单\n| 风险 | 可能性 | 影响 |\n|---|---|---|\n"
    "| 会员退订率高于预期 | 中 | **高** |\n| 收银系统改造延期 | 低 | 中 |\n"
    "## 应对措施\n- 折扣只用于第二杯\n",
    "en": "## Risks\n| Risk | Likelihood | Impact |\n|---|---|---|\n"
    "| Members cancel sooner than planned | medium | **high** |\n| The till upgrade slips | low | medium |\n"
    "## Mitigations\n- Limit the discount to the second cup\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_table_row_is_quoted_as_its_cells_under_their_headers(language: str) -> None:
    built = answered(one_step(["风险评估"], language), {"s": RISK_TABLES[language]},
                     language=language)  # fmt: skip

    said = main_conclusions(built)

    assert not MARKUP.search(said), said
    if language == "zh":
        assert "风险：会员退订率高于预期，可能性：中，影响：高（来自「风险分析」）" in said
    else:
        assert (
            "Risk: Members cancel sooner than planned, Likelihood: medium, Impact: high "
            "(from 'Risks')" in said
        )


EMPHASIS = {
    "zh": "## 核心结论\n- **会员制值得做：** 试点门店的复购率提高了九个百分点\n\n"
    "**月费上限：** 月费应留在 39 元以内，超过 49 元时退订率明显上升。\n"
    "## 行动建议\n- 先试点三个月\n",
    "en": "## Key conclusions\n- **Memberships pay:** repeat visits rose nine points in the pilot\n\n"
    "**Fee cap:** keep the fee under 39, since cancellations rise above 49.\n"
    "## Recommendations\n- Pilot for three months\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_emphasis_marks_are_not_quoted(language: str) -> None:
    built = answered(one_step(["结果整合"], language), {"s": EMPHASIS[language]},
                     language=language)  # fmt: skip

    said = main_conclusions(built)

    assert "*" not in said, said
    if language == "zh":
        assert "会员制值得做：试点门店的复购率提高了九个百分点" in said
        assert "月费上限：月费应留在 39 元以内" in said
    else:
        assert "Memberships pay: repeat visits rose nine points in the pilot" in said
        assert "Fee cap: keep the fee under 39" in said


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_line_opening_with_bold_is_a_finding_as_written(language: str) -> None:
    # "**" opens emphasis, not a "*" bullet: the key finding keeps both marks.
    built = answered(one_step(["结果整合"], language), {"s": EMPHASIS[language]},
                     language=language)  # fmt: skip

    second = built.key_findings[1].text

    assert second.startswith("**月费上限：**" if language == "zh" else "**Fee cap:**"), second


LABELLED_CONCLUSIONS = {
    "zh": "## 核心结论\n**结论一：** 会员制值得做，试点门店复购率提高了九个百分点\n\n"
    "结论二（定价）：月费应留在 39 元以内\n## 行动建议\n- 先试点三个月\n",
    "en": "## Key conclusions\n**Conclusion 1:** memberships pay, repeat visits rose nine points\n\n"
    "Conclusion (pricing): keep the fee under 39\n## Recommendations\n- Pilot for three months\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_conclusion_label_is_not_repeated_after_the_summarys_own(language: str) -> None:
    # "主要结论：结论一：…" says it twice; a label's qualifier ("定价") is kept.
    built = answered(one_step(["结果整合"], language), {"s": LABELLED_CONCLUSIONS[language]},
                     language=language)  # fmt: skip

    said = main_conclusions(built)

    if language == "zh":
        assert said.startswith("主要结论：会员制值得做"), said
        assert "；定价：月费应留在 39 元以内" in said, said
        assert said.count("结论") == 1, said
    else:
        assert said.startswith("Main conclusions: memberships pay"), said
        assert "; pricing: keep the fee under 39" in said, said
        assert said.lower().count("conclusion") == 1, said
    # The finding itself is quoted in the report as written.
    assert "一" in built.key_findings[0].text or "1" in built.key_findings[0].text


# --- what is quoted: conclusions, not lead-ins or verification -------------------------------

LEAD_IN_BEFORE_A_LIST = {
    "zh": "## 核心结论\n我们对照第一步定下的标准逐条检查了证据，各项结果有强有弱。\n\n"
    "- 会员制值得做，试点门店复购率提高了九个百分点\n- 月费应留在 39 元以内\n"
    "## 行动建议\n- 先试点三个月\n",
    "en": "## Key conclusions\nWe checked the evidence against the criteria set in the first "
    "step, and it holds up unevenly.\n\n- Memberships pay: repeat visits rose nine points\n"
    "- Keep the fee under 39\n## Recommendations\n- Pilot for three months\n",
}
LEAD_IN_BEFORE_ORDINALS = {
    "zh": "## 核心结论\n证据指向三条结论。首先，会员制让试点门店复购率提高了九个百分点。"
    "其次，月费应留在 39 元以内。最后，旗舰店应先试点三个月。\n## 行动建议\n- 先试点三个月\n",
    "en": "## Key conclusions\nThe evidence points to three conclusions. First, memberships "
    "raised repeat visits by nine points. Second, the fee must stay under 39. Third, the "
    "flagship store should pilot it first.\n## Recommendations\n- Pilot for three months\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("outputs", [LEAD_IN_BEFORE_A_LIST, LEAD_IN_BEFORE_ORDINALS],
                         ids=["paragraph-before-list", "sentence-before-ordinals"])  # fmt: skip
def test_a_lead_in_is_not_quoted_as_a_conclusion(language: str, outputs: dict[str, str]) -> None:
    built = answered(one_step(["结果整合"], language), {"s": outputs[language]},
                     language=language)  # fmt: skip

    said = main_conclusions(built)

    lead = outputs[language].split("\n")[1][:12]
    assert lead not in said, said
    quoted = said.split("：" if language == "zh" else ": ", 1)[1]
    assert ("会员制" if language == "zh" else "memberships") in quoted[:20].lower(), said


VERIFY_THEN_CONCLUDE = {
    "zh": "## 验证结果\n- 标准一基本满足：数据都能追溯到原始通报\n- 标准二部分满足：缺少禁渔前的基线\n"
    "## 待改进项\n- 结论措辞需要降级为“已有研究显示”\n"
    "## 核心结论\n- 鱼类多样性出现与禁渔一致的回升，监测种数比2020年多25种\n"
    "- 退捕渔民安置覆盖基本到位，但收入质量差异明显\n"
    "## 行动建议\n- 公开分省分年龄的就业与收入数据\n",
    "en": "## Verification results\n- Criterion 1 met: every figure traces to its source\n"
    "- Criterion 2 partly met: there is no pre-ban baseline\n"
    "## Open issues\n- The wording must say 'studies show', not 'we found'\n"
    "## Key conclusions\n- Fish diversity recovered in step with the ban: 25 more species than "
    "in 2020\n- Resettling the fishers reached almost all of them, but incomes vary widely\n"
    "## Recommendations\n- Publish employment and income data by province and age\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_step_that_verifies_then_concludes_is_quoted_for_its_conclusions(language: str) -> None:
    built = answered(one_step(["质量验证", "结果整合"], language),
                     {"s": VERIFY_THEN_CONCLUDE[language]}, language=language)  # fmt: skip

    said = main_conclusions(built)

    criterion = "标准一" if language == "zh" else "Criterion 1"
    assert criterion not in said, said
    assert ("鱼类多样性" if language == "zh" else "Fish diversity") in said
    assert ("退捕渔民" if language == "zh" else "Resettling") in said
    # the key findings lead with the conclusions too; the verification results follow
    texts = [f.text for f in built.key_findings]
    checks = "标准" if language == "zh" else "Criterion"
    assert [t.startswith(checks) for t in texts] == [False, False, True, True], texts


# --- counts ----------------------------------------------------------------------------------

ENUMERATED_ACTIONS = {
    "zh": "## 核心结论\n- 会员制值得做，试点门店复购率提高了九个百分点\n## 行动建议\n"
    "一是先在旗舰店试点三个月，记录每周的复购率。二是把月费上限定在 39 元，并在试点结束时复核。"
    "三是培训店员在结账时介绍会员权益。\n",
    "en": "## Key conclusions\n- Memberships pay: repeat visits rose nine points\n"
    "## Recommendations\nThe first priority is to pilot the scheme in the flagship store for "
    "three months. The second is to cap the fee at 39 and review it when the pilot ends. The "
    "third, lower priority, is to train the baristas to offer it at the till.\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_paragraph_that_enumerates_actions_gives_one_recommendation_each(language: str) -> None:
    built = answered(one_step(["结果整合"], language), {"s": ENUMERATED_ACTIONS[language]},
                     language=language)  # fmt: skip

    assert len(built.recommendations) == 3, built.recommendations
    assert ("建议 3 条" if language == "zh" else "3 recommendations") in built.executive_summary


SINGULAR_NOUN = re.compile(r"\b1 (?:of 1 )?(?:key )?(?!was\b)[a-z]+s\b|\b1 were\b|these questions")


def metrics(total: int, completed: int, failed: int = 0, skipped: int = 0) -> QualityMetrics:
    pending = total - completed - failed - skipped
    return QualityMetrics(
        total_steps=total, completed_steps=completed, failed_steps=failed,
        skipped_steps=skipped, pending_steps=pending, completion_rate=None,
        first_pass_rate=None, total_attempts=completed + failed, focus_area_coverage=None,
        total_duration=0.0, elapsed=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "counts", "outline"),
    [
        ("completed", (1, 1), False),
        ("completed_with_gaps", (3, 1, 1, 1), False),
        ("completed", (1, 1), True),
        ("completed_with_gaps", (3, 1, 1, 1), True),
    ],
)
def test_english_counts_agree_with_their_number(
    status: str, counts: tuple[int, ...], outline: bool
) -> None:
    session = make_session(steps=counts[0], language="en").model_copy(update={"status": status})
    one = [report.ReportItem(text="Memberships pay off", step_id="step_1", step_name="Step 1")]

    said = summary(session, metrics(*counts), one, one, 1, outline)

    assert not SINGULAR_NOUN.search(said), said


def test_an_ordinal_inside_a_word_does_not_cut_a_paragraph() -> None:
    # "其一" inside 尤其一致 and "其二" opening 其二线 are not the points of an enumeration.
    paragraph = "会员制在一线城市尤其一致地提高了复购率，其二线城市门店的数据还不足以下结论。"
    output = f"## 核心结论\n{paragraph}\n## 行动建议\n- 先试点三个月\n"

    built = answered(one_step(["结果整合"], "zh"), {"s": output})

    assert [f.text for f in built.key_findings] == [paragraph]


# --- a chain that ended without conclusions --------------------------------------------------

NO_FINDINGS_SECTION = {
    "zh": "## 核心问题\n会员订阅制能否在半年内让老客复购率回到 30%？\n"
    "## 成功标准\n- 半年内会员达到 150 人\n",
    "en": "## Core question\nCan a membership bring repeat visits back to 30% within six months?\n"
    "## Success criteria\n- 150 members within six months\n",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_ended_chain_without_conclusions_does_not_promise_them_yet(language: str) -> None:
    # GIVEN a two-step chain: the first step answered (it frames, it concludes nothing), the
    # second skipped, so the chain has ended
    definition, _ = build_chain(
        steps=[custom_step("a"), custom_step("b", capabilities=["需求提取"])],
        language=language,
        execution_mode="parallel",
    )
    session = complete_step(start_chain(definition), "a", NO_FINDINGS_SECTION[language])
    session = engine.skip(session, "b", "不需要" if language == "zh" else "not needed",
                          now=session.updated_at + 1)  # fmt: skip
    assert session.status == "completed_with_gaps"

    said = report.build(session, chain.registry_for(definition), now=T0 + 3600).executive_summary

    # THEN the summary says there are none, not that there are none yet
    if language == "zh":
        assert "没有可以报告的结论" in said, said
        assert "尚无" not in said, said
    else:
        assert "There are no conclusions to report." in said, said
        assert "yet" not in said, said
