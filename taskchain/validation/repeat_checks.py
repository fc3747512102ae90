"""The check that an output does not repeat itself: no sentence twice, no paragraph copied."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain

from taskchain.models import Feedback, Rule
from taskchain.substance import comparable, passages, sentences, shingles, units
from taskchain.validation.context import Context, quotes, result, t
from taskchain.validation.thresholds import REPEAT_SENTENCE_UNITS

# Paragraphs this long or longer are compared; a pair sharing this share of their shingles
# (Jaccard: shared over all) is one paragraph written twice.
_PARAGRAPH_UNITS = 25
_SAME_SHARE = (3, 4)


def internal_repeat(ctx: Context, rule: Rule) -> Feedback:
    seen: dict[str, str] = {}
    repeated: list[str] = []
    least = rule.min_units or REPEAT_SENTENCE_UNITS
    for sentence in sentences(ctx.output):
        if units(sentence) < least:
            continue
        key = comparable(sentence)
        if key in seen and seen[key] not in repeated:
            repeated.append(seen[key])
        seen.setdefault(key, sentence)
    if not repeated:
        repeated = _near_duplicate_paragraphs(ctx)
    quoted = quotes(ctx, repeated[:3])
    return result(
        ctx,
        rule,
        not repeated,
        f"输出中有重复的内容：{quoted}" if repeated else "没有重复的句子或段落",
        f"the output repeats itself: {quoted}" if repeated else "no repeated sentence or paragraph",
        t(
            ctx.lang,
            "每一节写这一节自己的内容，不要把同一句话或同一段复制到多处。",
            "Give each section its own content; do not copy a sentence or paragraph to several "
            "places.",
        ),
    )


def _near_duplicate_paragraphs(ctx: Context) -> list[str]:
    """Paragraphs that are the same but for a few words (e.g. one per heading)."""
    ignore = _name_shingles(ctx.names)
    texts = [
        text
        for heading, text in passages(ctx.output)
        if not heading and units(text) >= _PARAGRAPH_UNITS
    ]
    copied = near_copies([shingles(text) - ignore for text in texts])
    return [text for i, text in enumerate(texts) if i in copied]


@lru_cache(maxsize=256)
def _name_shingles(names: tuple[str, ...]) -> frozenset[str]:
    """The shingles of the names of the target, focus areas and sections: not compared."""
    return frozenset().union(*(shingles(n) for n in names))


def near_copies(prints: Sequence[frozenset[str]]) -> set[int]:
    """The indexes ``i`` of ``prints`` that some later print ``j`` nearly copies: the two share
    at least 3/4 of all their shingles (an empty print copies nothing).

    Exact, without comparing every pair (prefix filtering): order the shingles rarest first;
    two prints that share 3/4 of their union share 3/4 of each, so each print's first
    ``n - ceil(3n / 4) + 1`` shingles meet the other's. Only prints whose first shingles meet
    are compared. Shingles no other print has come first and meet nothing, so a print whose
    first shingles are all its own is compared with none.
    """
    share, whole = _SAME_SHARE
    seen: set[str] = set()
    shared: set[str] = set()  # shingles in two prints or more
    for p in prints:
        shared |= seen & p
        seen |= p
    # Per print, how many of its first shingles are shingles other prints have too.
    wanted: list[tuple[int, frozenset[str], int]] = []
    for i, p in enumerate(prints):
        common = p & shared  # a frozenset, as p is
        first = len(p) - -(-share * len(p) // whole) + 1  # n - ceil(3n/4) + 1
        if (own := len(p) - len(common)) < first:
            wanted.append((i, common, first - own))
    if not wanted:
        return set()
    counts = Counter(chain.from_iterable(c for _, c, _ in wanted))
    # Rarest first; ties in a fixed order (a stable sort of one Counter), the same for every print.
    rank = {s: n for n, s in enumerate(sorted(counts, key=counts.__getitem__))}
    met: dict[str, list[int]] = {}
    pairs: set[tuple[int, int]] = set()
    for i, found_in, take in wanted:
        for s in sorted(found_in, key=rank.__getitem__)[:take]:
            earlier = met.setdefault(s, [])
            pairs.update((j, i) for j in earlier)
            earlier.append(i)
    found: set[int] = set()
    for j, i in sorted(pairs):
        if j not in found and _same(prints[j], prints[i]):
            found.add(j)
    return found


def _same(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether ``a`` and ``b`` share at least 3/4 of their union (integers: no rounding)."""
    share, whole = _SAME_SHARE
    both = len(a & b)
    return both > 0 and whole * both >= share * (len(a) + len(b) - both)
