"""Judge the quality corpus: how many good answers are refused and defective ones caught.

    python -m tests.quality.evaluate [--verbose] [--only analysis-zh]

The corpus (``tests/quality/corpus/<template>-<lang>/``) holds, per template and language, two
chains (``chains.json``: target, focus areas, depth; ``reference``: the good answers the
defects were written after), good answers written to the printed
instructions in several formats (``good/<chain>-<format>/<step_id>.md``) and defective answers
for chain A (``bad/<kind>/A-<step_id>.md``). Every answer is judged as a first submission: the
earlier steps of its chain count as completed with that chain's good answers (a defect is
judged after the ``reference`` good answers of chain A). Nothing here is tuned per answer.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from taskchain.capabilities import CapabilityRegistry
from taskchain.chain import build
from taskchain.models import ChainDefinition
from taskchain.requests import ChainRequest, parse
from taskchain.validation import check

CORPUS = Path(__file__).parent / "corpus"


@dataclass
class Judged:
    """One answer and its verdict."""

    corpus: str
    path: str
    kind: str  # "good:<format>" or "bad:<defect>"
    step_id: str
    accepted: bool
    failed: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def _chain(
    meta: dict[str, object], template: str, language: str
) -> tuple[ChainDefinition, CapabilityRegistry]:
    """The chain an answer belongs to, built as a request would build it."""
    request = parse(
        ChainRequest,
        {
            "task_type": template,
            "target": meta["target"],
            "config": {
                "focus_areas": meta["focus_areas"],
                "depth": meta.get("depth", "detailed"),
                "language": language,
            },
        },
    )
    return build(request)


def judge(corpus: Path) -> Iterator[Judged]:
    """Every answer of one corpus directory, judged."""
    template, language = corpus.name.split(".")[0].rsplit("-", 1)  # "analysis-zh.r2": round 2
    chains = json.loads((corpus / "chains.json").read_text(encoding="utf-8"))
    reference_dir = chains.pop("reference", None)  # the good answers a defect follows
    built = {name: _chain(meta, template, language) for name, meta in chains.items()}
    good_dirs = sorted(p for p in (corpus / "good").iterdir() if p.is_dir())
    reference: dict[str, dict[str, str]] = {}
    for chain_dir in good_dirs:
        chain_name, fmt = chain_dir.name.split("-", 1)
        definition, registry = built[chain_name]
        earlier: dict[str, str] = {}
        for step in definition.steps:
            path = chain_dir / f"{step.id}.md"
            if not path.exists():
                continue
            output = path.read_text(encoding="utf-8").strip()
            verdict = check(definition, step, output, registry=registry, earlier=dict(earlier))
            yield _judged(corpus, path, f"good:{fmt}", step.id, verdict)
            earlier[step.id] = output
        if reference_dir in (None, chain_dir.name):
            reference.setdefault(chain_name, earlier)
    bad = corpus / "bad"
    if not bad.exists():
        return
    for kind_dir in sorted(p for p in bad.iterdir() if p.is_dir()):
        for path in sorted(kind_dir.glob("*.md")):
            chain_name, step_id = path.stem.split("-", 1)
            definition, registry = built[chain_name]
            order = [s.id for s in definition.steps]
            step = definition.step(step_id)
            if step is None:
                continue
            earlier = {
                k: v
                for k, v in reference.get(chain_name, {}).items()
                if order.index(k) < order.index(step_id)
            }
            output = path.read_text(encoding="utf-8").strip()
            verdict = check(definition, step, output, registry=registry, earlier=earlier)
            yield _judged(corpus, path, f"bad:{kind_dir.name}", step_id, verdict)


def _judged(corpus: Path, path: Path, kind: str, step_id: str, verdict: object) -> Judged:
    from taskchain.validation import Verdict

    assert isinstance(verdict, Verdict)
    failed = [f for f in verdict.feedback if not f.passed and f.severity == "error"]
    return Judged(
        corpus=corpus.name,
        path=str(path.relative_to(CORPUS)),
        kind=kind,
        step_id=step_id,
        accepted=verdict.accepted,
        failed=[f.rule for f in failed],
        messages=[f"[{f.rule}] {f.message}" for f in failed],
    )


def judge_all(only: str | None = None) -> list[Judged]:
    """Every answer of every corpus directory (or of ``only``)."""
    dirs = sorted(p for p in CORPUS.iterdir() if (p / "chains.json").exists())
    return [j for d in dirs if only in (None, d.name) for j in judge(d)]


@dataclass(frozen=True)
class Totals:
    """The corpus' headline figures."""

    good: int
    good_refused: int
    bad: int
    bad_caught: int

    @property
    def refused_rate(self) -> float:
        return self.good_refused / self.good if self.good else 0.0

    @property
    def caught_rate(self) -> float:
        return self.bad_caught / self.bad if self.bad else 0.0


def totals(results: list[Judged]) -> Totals:
    """Good answers refused and defects caught, over ``results``."""
    good = [r for r in results if r.kind.startswith("good:")]
    bad = [r for r in results if r.kind.startswith("bad:")]
    return Totals(
        good=len(good),
        good_refused=sum(1 for r in good if not r.accepted),
        bad=len(bad),
        bad_caught=sum(1 for r in bad if not r.accepted),
    )


def table(results: list[Judged]) -> str:
    """The per-kind table ``make eval`` prints."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rules: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        row = rows[r.kind]
        row[0] += 1
        row[1] += 0 if r.accepted else 1
        for rule in r.failed:
            rules[r.kind][rule.split(":")[0]] += 1
    lines = [
        "| answers | n | refused | share refused | rules that refused (count) |",
        "|---|---|---|---|---|",
    ]
    for kind in sorted(rows, key=lambda k: (not k.startswith("good"), k)):
        n, refused = rows[kind]
        top = ", ".join(
            f"{k} {v}" for k, v in sorted(rules[kind].items(), key=lambda kv: -kv[1])[:4]
        )
        lines.append(f"| {kind} | {n} | {refused} | {refused / n:.0%} | {top} |")
    t = totals(results)
    lines.append(
        f"| **good answers refused** | {t.good} | {t.good_refused} | {t.refused_rate:.1%} | target ≤ 3 % |"
    )
    lines.append(
        f"| **defects caught** | {t.bad} | {t.bad_caught} | {t.caught_rate:.1%} | target ≥ 95 % |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table (and, with ``--verbose``, every misjudged answer with its reasons)."""
    parser = argparse.ArgumentParser(description="judge the quality corpus")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--only")
    args = parser.parse_args(argv)
    results = judge_all(args.only)
    if args.verbose:
        for r in results:
            good = r.kind.startswith("good:")
            if good != r.accepted:
                print(f"{'REFUSED GOOD' if good else 'MISSED DEFECT'} {r.path}")
                for m in r.messages:
                    print(f"    {m[:300]}")
        print()
    print(table(results))
    t = totals(results)
    ok = t.refused_rate <= 0.03 and t.caught_rate >= 0.95
    print(
        f"\n{'targets met' if ok else 'targets NOT met'}: {t.good_refused}/{t.good} good refused, "
        f"{t.bad_caught}/{t.bad} defects caught"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
