"""What the checks of a step read of the outputs accepted before it: their fingerprints.

``not_repeat`` compares an output's content words with each earlier output's, and ``on_topic``
asks which of the target's words, and which content words, the chain has used so far. Both read
an earlier output only through :func:`fingerprint`, computed once when the output is accepted
and kept with its step (``StepRecord.fingerprint``): a submit at step 20 reads 19 fingerprints,
never 19 outputs. Outputs without one (records stored before fingerprints existed, outputs whose
words pass :data:`MAX_CHARS`, texts handed to :func:`~taskchain.validation.check`
directly) are fingerprinted when a check needs them, so the verdicts are the same either way.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import lru_cache

from taskchain.models import ChainDefinition, Fingerprint
from taskchain.substance import content_tokens, content_words, has_term, term_pieces

# An output whose words would take more characters keeps no fingerprint (its checks read the
# output itself, as before fingerprints), so a record grows by at most this much, whatever its
# output. Realistic answers stay well below it: ~300 words (~900 characters) for 2 KB of
# Chinese, ~930 words for the wordiest answer of the quality corpus (3.5 K characters).
MAX_CHARS = 6000


def fingerprint(output: str, definition: ChainDefinition) -> Fingerprint | None:
    """What later steps' checks need of ``output``, an output accepted in ``definition``, to
    keep with its step; ``None`` when its words would take more than :data:`MAX_CHARS`.

    ``words``: its distinct content words (:func:`~taskchain.substance.content_tokens`) in
    order of first use, space-separated (a content word holds no space), less the words of the
    target and the focus areas: ``not_repeat`` leaves those out of every comparison, and
    ``on_topic`` counts the target's words as used anyway and never looks at the focus areas'.
    ``topic``: the pieces of the target's key terms (:func:`~taskchain.substance.term_pieces`,
    of which ``on_topic``'s terms are the first) that the output uses outside quotations of
    the whole target.
    """
    found = _fingerprint(output, definition)
    return found if len(found.words) <= MAX_CHARS else None


def fingerprints(
    earlier: Mapping[str, str | Fingerprint], definition: ChainDefinition
) -> dict[str, Fingerprint]:
    """Each earlier output's fingerprint, by step id, in the given order; a text is
    fingerprinted now (an empty one is left out, as it says nothing)."""
    out: dict[str, Fingerprint] = {}
    for step_id, given in earlier.items():
        if isinstance(given, Fingerprint):
            out[step_id] = given
        elif given:
            out[step_id] = _fingerprint(given, definition)
    return out


def word_set(found: Fingerprint) -> frozenset[str]:
    """A fingerprint's ``words`` as a set, for the checks that compare words with them."""
    return _word_set(found.words)


# A submit at step 20 compares with 19 fingerprints: each is split into its set once, while
# it stays among the most recently read (1,024 cover some fifty open 20-step sessions). The
# words are interned, so the sets of a session share their strings: a set costs its table,
# about 8 KB for 300 words.
@lru_cache(maxsize=1024)
def _word_set(words: str) -> frozenset[str]:
    return frozenset(map(sys.intern, words.split()))


def _fingerprint(output: str, definition: ChainDefinition) -> Fingerprint:
    """The fingerprint of ``output``, however long."""
    return _fingerprint_of(output, definition.target, tuple(definition.config.focus_areas))


# Cached: texts handed to ``check`` as earlier outputs are fingerprinted at every later step.
@lru_cache(maxsize=256)
def _fingerprint_of(output: str, target: str, areas: tuple[str, ...]) -> Fingerprint:
    """The fingerprint of ``output`` in a chain about ``target`` with focus ``areas``."""
    names = (target, *areas)
    skip = frozenset().union(*map(content_words, names))
    words = " ".join(t for t in dict.fromkeys(content_tokens(output)) if t not in skip)
    said = output.lower().replace(target.lower(), " ")
    topic = tuple(p for p in term_pieces(target) if has_term(said, p))
    return Fingerprint(words=words, topic=topic)


__all__ = ["MAX_CHARS", "fingerprint", "fingerprints", "word_set"]
