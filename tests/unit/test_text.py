"""Reading model output: a finished step's one-line summary, and Markdown read as plain text."""

from __future__ import annotations

import pytest

from taskchain.text import counted, first_sentence, labelled_row, unmark

LIMIT = 160


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "**Theme:** A community garden that doubles as a classroom.\n\nMore follows.",
            "Theme: A community garden that doubles as a classroom.",
        ),
        (
            "- **Q1 – Scale of use:** How much is used per kilogram produced?",
            "Q1 – Scale of use: How much is used per kilogram produced?",
        ),
        ("**主题：** 一座兼作课堂的社区花园。", "主题：一座兼作课堂的社区花园。"),
        ("The *first* cohort starts in __May__.", "The first cohort starts in May."),
    ],
)
def test_the_summary_has_no_emphasis_marks(output: str, expected: str) -> None:
    assert first_sentence(output, LIMIT) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "Core question:\nWhich three data people should we hire, and in what order?",
            "Which three data people should we hire, and in what order?",
        ),
        ("核心问题：\n大促当晚支付成功率为什么跌到 62%？", "大促当晚支付成功率为什么跌到 62%？"),
        ("**Core question**\n\nCore question:\n\nHow do we move the records?", "How do we move the records?"),
        ("一、核心问题\n\n一句话复述：支付成功率跌到 62%。", "一句话复述：支付成功率跌到 62%。"),
        ("1. Core question\n\nHow do we move the records without losing one?",
         "How do we move the records without losing one?"),
    ],
)  # fmt: skip
def test_a_label_or_heading_alone_on_its_line_is_skipped(output: str, expected: str) -> None:
    assert first_sentence(output, LIMIT) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # a label with its content on the same line is the content's opening
        ("Core question: which three people to hire first.", "Core question: which three people to hire first."),
        # a list of short items is content, not a run of headings
        ("1. Raise prices\n2. Cut opening hours", "Raise prices"),
        ("一、提高价格\n二、缩短营业时间", "一、提高价格"),
        # a lead-in sentence is not a short label
        ("Five clearly different ways to run the interview loop for the three roles:\n- A",
         "Five clearly different ways to run the interview loop for the three roles:"),
    ],
)  # fmt: skip
def test_content_is_not_skipped_as_a_label(output: str, expected: str) -> None:
    assert first_sentence(output, LIMIT) == expected


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("**Not met** — 15 minutes over", "Not met — 15 minutes over"),
        ("**对照标准一：** 基本满足", "对照标准一：基本满足"),
        ("snake_case_name stays, 2 * 3 = 6 stays", "snake_case_name stays, 2 * 3 = 6 stays"),
        ("- a bullet stays a bullet", "- a bullet stays a bullet"),
    ],
)
def test_unmark_removes_emphasis_and_nothing_else(markdown: str, plain: str) -> None:
    assert unmark(markdown) == plain


@pytest.mark.parametrize(
    ("header", "cells", "language", "plain"),
    [
        (["#", "Criterion", "Verdict"], ["2", "Downtime ≤ 4 h", "**Not met**"], "en",
         "Criterion: Downtime ≤ 4 h, Verdict: Not met"),
        (["风险", "可能性", "影响"], ["延期", "", "高"], "zh", "风险：延期，影响：高"),
        ([], ["no header", "here"], "en", "no header, here"),
        (["", "Owner"], ["R1", "Ops"], "en", "R1, Owner: Ops"),
    ],
)  # fmt: skip
def test_a_table_row_reads_as_its_cells_under_their_headers(
    header: list[str], cells: list[str], language: str, plain: str
) -> None:
    assert labelled_row(header, cells, language) == plain


def test_counts_take_the_number_of_their_noun() -> None:
    assert [counted(n, "step") for n in (0, 1, 2)] == ["0 steps", "1 step", "2 steps"]
    assert counted(1, "key finding") == "1 key finding"
    assert counted(3, "analysis", "analyses") == "3 analyses"


def test_a_shortened_text_is_cut_between_words_not_inside_one() -> None:
    from taskchain.text import shorten

    said = shorten("Four-day weeks cut sick days (a 16% drop) in most firms", 38)
    assert said == "Four-day weeks cut sick days (a 16%…"  # not "… (a 16% d…"
    assert len(said) <= 38
    # Chinese has no spaces: it is cut at the limit; so is one word longer than the limit
    assert shorten("会员订阅制的单店盈利能力取决于复购率", 10) == "会员订阅制的单店盈…"
    assert shorten("Supercalifragilisticexpialidocious", 10) == "Supercali…"
