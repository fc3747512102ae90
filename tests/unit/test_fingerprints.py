"""Fingerprints: what an accepted output keeps for the checks of later steps (issue 8, §4).

A later submit reads the fingerprints, never the earlier outputs, and judges exactly as it did
when it read the outputs themselves.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskchain import engine, substance
from taskchain.capabilities import CapabilityRegistry
from taskchain.chain import build
from taskchain.models import ChainDefinition, Fingerprint, Session
from taskchain.requests import ChainRequest, parse
from taskchain.states import StepState
from taskchain.validation import checks, content_checks, earlier
from taskchain.validation.earlier import MAX_CHARS, fingerprint
from tests.factories import T0, build_chain, custom_step, passing_output, start_chain

CORPUS = Path(__file__).parent.parent / "quality" / "corpus"


def worked(steps: int = 20) -> tuple[Session, CapabilityRegistry, list[str]]:
    """A session of ``steps`` steps in sequence, each accepted with a ~2 KB output."""
    specs = [
        custom_step(
            f"s{i:02d}",
            *([f"s{i - 1:02d}"] if i > 1 else []),
            validation_rules={"min_length": 560},
        )
        for i in range(1, steps + 1)
    ]
    definition, registry = build_chain(steps=specs, focus_areas=["成本", "客流"])
    session, outputs = start_chain(definition), []
    for n, spec in enumerate(definition.steps, start=1):
        output = passing_output(session, spec.id, registry)
        outcome = engine.submit(session, spec.id, output, now=T0 + n, registry=registry)
        assert outcome.accepted, [f for f in outcome.feedback if not f.passed]
        session = outcome.session
        outputs.append(output)
    return session, registry, outputs


def reopened(session: Session, step_id: str, *, keep_fingerprints: bool = True) -> Session:
    """``session`` as it was with ``step_id`` ready again (its record back to ready), with or
    without the fingerprints of the completed steps (a session stored before they existed)."""
    records = {
        k: r if keep_fingerprints else r.model_copy(update={"fingerprint": None})
        for k, r in session.records.items()
    }
    records[step_id] = records[step_id].model_copy(
        update={"state": StepState.READY, "output": None, "fingerprint": None}
    )
    later = [s.id for s in session.definition.steps]
    for step in later[later.index(step_id) + 1 :]:
        records[step] = records[step].model_copy(
            update={"state": StepState.PENDING, "output": None, "fingerprint": None}
        )
    return session.model_copy(update={"records": records, "status": "active"})


def test_an_accepted_output_keeps_its_fingerprint_and_a_refused_one_none() -> None:
    session, registry, outputs = worked(2)
    record = session.record("s01")

    assert record.fingerprint == fingerprint(outputs[0], session.definition)
    assert record.fingerprint is not None
    words = record.fingerprint.words.split()
    # the output's content words, once each, the target's and the focus areas' aside
    assert len(words) == len(set(words)) > 100
    named = set(substance.content_tokens(session.definition.target)) | {"成本", "客流"}
    assert set(substance.content_tokens(outputs[0])) - set(words) <= named
    assert not named & set(words)
    # ~300 words for ~2 KB of output; stored (compressed, as every store keeps a step record),
    # it adds less than half the output's size to the record
    stored = len(zlib.compress(record.model_dump_json().encode()))
    bare = record.model_copy(update={"fingerprint": None}).model_dump_json().encode()
    assert stored - len(zlib.compress(bare)) < len(outputs[0].encode()) / 2

    again = reopened(session, "s02")
    refused = engine.submit(again, "s02", "还没想好。", now=T0 + 99, registry=registry)
    assert not refused.accepted
    assert refused.session.record("s02").fingerprint is None


def test_a_submit_at_step_20_reads_no_earlier_output(monkeypatch: pytest.MonkeyPatch) -> None:
    session, registry, outputs = worked(20)
    again = reopened(session, "s20")
    read: list[str] = []
    tokens = substance.content_tokens

    def spy(text: str) -> tuple[str, ...]:
        read.append(text)
        return tokens(text)

    for module in (substance, content_checks, checks, earlier):
        monkeypatch.setattr(module, "content_tokens", spy)

    outcome = engine.submit(again, "s20", outputs[-1], now=T0 + 99, registry=registry)

    assert outcome.accepted
    assert read  # the output itself is read
    assert not [text for text in read for old in outputs[:-1] if old.strip()[:200] in text]


def test_the_verdicts_are_the_same_with_or_without_stored_fingerprints() -> None:
    session, registry, outputs = worked(6)
    for k, step_id in enumerate(["s02", "s04", "s06"]):
        late = outputs[int(step_id[1:]) - 1]
        for output in (late, outputs[0], outputs[k] + "\n" + late):  # new, a copy, a mix
            kept, lost = (
                engine.submit(
                    reopened(session, step_id, keep_fingerprints=keep),
                    step_id,
                    output,
                    now=T0 + 99,
                    registry=registry,
                )
                for keep in (True, False)
            )
            assert kept.feedback == lost.feedback


def _corpus_chains() -> Iterator[tuple[str, ChainDefinition, list[str]]]:
    """Chain A of every corpus directory with its reference good answers, in step order."""
    for directory in sorted(p for p in CORPUS.iterdir() if (p / "chains.json").exists()):
        template, language = directory.name.split(".")[0].rsplit("-", 1)
        chains = json.loads((directory / "chains.json").read_text(encoding="utf-8"))
        meta: dict[str, Any] = chains["A"]
        body = {
            "task_type": template,
            "target": meta["target"],
            "config": {"focus_areas": meta["focus_areas"], "language": language},
        }
        definition, _ = build(parse(ChainRequest, body))
        answers = directory / "good" / chains["reference"]
        texts = [
            (answers / f"{s.id}.md").read_text(encoding="utf-8").strip()
            for s in definition.steps
            if (answers / f"{s.id}.md").exists()
        ]
        yield directory.name, definition, texts


CHAINS = list(_corpus_chains())


@pytest.mark.parametrize(("name", "definition", "texts"), CHAINS, ids=[c[0] for c in CHAINS])
def test_fingerprints_answer_what_the_outputs_answered(
    name: str, definition: ChainDefinition, texts: list[str]
) -> None:
    # The questions the checks ask of earlier outputs, asked of the texts (as the checks did
    # before fingerprints) and of the fingerprints: every answer is the same.
    target, areas = definition.target, definition.config.focus_areas
    names = (target, *substance.term_pieces(target), *areas)
    ignore = frozenset(t for n in names for t in substance.content_tokens(n))
    skip = frozenset(t for n in areas for t in substance.content_tokens(n))
    prints = [fingerprint(text, definition) for text in texts]
    assert all(isinstance(p, Fingerprint) for p in prints)
    for i, later in enumerate(texts):
        mine = frozenset(substance.content_tokens(later))
        own = mine - ignore
        for old, fp in zip(texts[:i], prints[:i], strict=True):
            assert fp is not None
            # not_repeat: the share of the later output's words the earlier one used
            theirs = frozenset(substance.content_tokens(old))
            assert len(own.intersection(fp.words.split())) == len(own & theirs)
        if i == 0:
            continue
        # on_topic: the target's words the chain has used, and the words it has used
        joined = " ".join(texts[:i])
        said = joined.lower().replace(target.lower(), " ")
        before = {p for fp in prints[:i] if fp for p in fp.topic}
        for piece in substance.term_pieces(target):
            assert (piece in before) == substance.has_term(said, piece), (name, piece)
        known = frozenset(substance.content_tokens(joined)) | frozenset(
            substance.content_tokens(target)
        )
        used = {w for fp in prints[:i] if fp for w in fp.words.split()}
        used |= set(substance.content_tokens(target))
        for word in mine - skip:
            assert (word in used) == (word in known), (name, word)


def _hanzi(chars: int, seed: int = 3) -> str:
    """Random Chinese characters: thousands of distinct two-character words."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(chars))


def test_an_output_of_too_many_words_keeps_none_and_later_checks_read_it() -> None:
    rules: dict[str, object] = {
        "min_length": 100,
        "max_length": 20_000,
        "required_sections": [],
        "require_focus_areas": False,
        "skip_rules": ["on_topic", "no_filler", "concrete", "no_internal_repeat", "not_repeat"],
    }
    later_rules = {
        **rules,
        "skip_rules": ["on_topic", "no_filler", "concrete", "no_internal_repeat"],
    }
    definition, registry = build_chain(
        steps=[
            custom_step("a", validation_rules=rules),
            custom_step("b", "a", validation_rules=later_rules),
        ]
    )
    long = _hanzi(4000)  # ~4,000 distinct words: ~12,000 characters of fingerprint
    assert fingerprint(long, definition) is None
    short = fingerprint(long[:1000], definition)
    assert short is not None
    assert len(short.words) <= MAX_CHARS

    first = engine.submit(start_chain(definition), "a", long, now=T0 + 1, registry=registry)
    assert first.accepted
    assert first.session.record("a").fingerprint is None  # a record stays small
    copy = engine.submit(first.session, "b", long, now=T0 + 2, registry=registry)

    repeat = next(f for f in copy.feedback if f.rule == "not_repeat")
    assert not repeat.passed
    assert "100%" in repeat.message
