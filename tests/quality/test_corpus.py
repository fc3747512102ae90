"""The quality corpus, judged: the checks accept good answers and catch defective ones.

The corpus is deterministic, so the totals are too; the targets are the product's promise
(issue 6): at most 3 % of good answers refused, at least 95 % of defects caught. ``make eval``
prints the same figures per kind.
"""

from __future__ import annotations

import pytest

from tests.quality.evaluate import CORPUS, judge_all, totals

RESULTS = judge_all()


def test_the_corpus_covers_every_template_in_both_languages() -> None:
    dirs = {p.name for p in CORPUS.iterdir() if (p / "chains.json").exists()}
    for template in ("analysis", "creative", "education", "research"):
        assert {f"{template}-zh", f"{template}-en"} & dirs, template
    kinds = {r.kind for r in RESULTS}
    assert {"good:prose", "good:bullets", "good:bold", "good:table"} <= kinds
    assert {
        "bad:thin",
        "bad:focus_missing",
        "bad:focus_named_only",
        "bad:stuffing",
        "bad:repeated",
        "bad:copy_previous",
        "bad:other_target",
        "bad:wrong_language",
        "bad:empty_headings",
        "bad:wrong_step",
    } <= kinds


def test_at_most_three_percent_of_good_answers_are_refused() -> None:
    t = totals(RESULTS)
    refused = [(r.path, r.failed) for r in RESULTS if r.kind.startswith("good:") and not r.accepted]
    assert t.good >= 50
    assert t.refused_rate <= 0.03, refused


# Known and open: an answer about a *close* subject (REI's resale programme for Patagonia's,
# Iceland's shorter-week trials for the UK's pilot, gas pipes for water pipes, Brampton's
# library campaign for Toronto's) shares most of the chain's words. Round 4 (held-out, written
# blind) brought this kind from 22/26 to 32/42 caught; round 6, whose writers were asked for
# close subjects, to 41/58; rounds 7 and 8 to 50/90. Strict: once it is mostly caught again the
# mark must go.
_BELOW_FLOOR = {
    "bad:other_target": "close-subject answers share the chain's vocabulary; 50/90 caught (open)"
}


@pytest.mark.xfail(
    strict=True,
    reason="open: 434/480 (90.4 %) with rounds 6-8's close-subject answers; the other kinds are "
    "held to 95 % below",
)
def test_at_least_ninety_five_percent_of_defects_are_caught() -> None:
    t = totals(RESULTS)
    missed = [r.path for r in RESULTS if r.kind.startswith("bad:") and r.accepted]
    assert t.bad >= 50
    assert t.caught_rate >= 0.95, missed


def test_at_least_ninety_five_percent_of_the_other_defects_are_caught() -> None:
    # The promise holds for every kind of defect but the open one, which is counted above.
    mine = [r for r in RESULTS if r.kind.startswith("bad:") and r.kind not in _BELOW_FLOOR]
    missed = [r.path for r in mine if r.accepted]
    assert len(mine) >= 50
    assert 1 - len(missed) / len(mine) >= 0.95, missed


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=_BELOW_FLOOR[k]))
        if k in _BELOW_FLOOR
        else k
        for k in sorted({r.kind for r in RESULTS if r.kind.startswith("bad:")})
    ],
)
def test_every_kind_of_defect_is_mostly_caught(kind: str) -> None:
    mine = [r for r in RESULTS if r.kind == kind]
    caught = sum(1 for r in mine if not r.accepted)
    assert caught / len(mine) >= 0.8, [r.path for r in mine if r.accepted]
