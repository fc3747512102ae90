"""The numbers the rules are stated with: one place to read and tune them."""

from __future__ import annotations

from collections.abc import Mapping

# Content units (one per CJK character or Latin word) expected at each depth. The floor is low
# on purpose: a careful answer is judged on what it says, and length alone refuses little.
DEPTH_BOUNDS: Mapping[str, tuple[int, int]] = {
    "basic": (60, 1500),
    "detailed": (150, 4000),
    "comprehensive": (300, 8000),
}
# Units a required section must hold under its title.
SECTION_MIN_UNITS = 8
# Specific units (beyond names and generic wording) a passage about a focus area must hold.
FOCUS_MIN_UNITS: Mapping[str, int] = {"basic": 6, "detailed": 8, "comprehensive": 10}
# The largest share of the output's units that filler sentences may take.
FILLER_MAX_SHARE: Mapping[str, float] = {"basic": 0.4, "detailed": 0.35, "comprehensive": 0.3}
# A sentence needs this many specific units (or a figure, name or example) not to be filler.
FILLER_SENTENCE_UNITS = 3
# The least share of the text (in sentences of CONCRETE_SENTENCE_UNITS units or more: labels and
# headings aside) that must stand in sentences carrying a figure, a name or an example.
CONCRETE_MIN_SHARE = 0.15
CONCRETE_SENTENCE_UNITS = 4
# Share of the target's key terms (at most the first 20) that the output must use.
ON_TOPIC_SHARE = 0.35
ON_TOPIC_MAX_PIECES = 40
# From the second step on, the output's most used words (ON_TOPIC_TOP of them, the step's own
# wording aside) are compared with the target and the earlier steps' outputs: ON_TOPIC_SHARED of
# them must be shared, or ON_TOPIC_SHARED_WITH_TERMS when the target's words appear too.
ON_TOPIC_TOP = 12
ON_TOPIC_SHARED = 6
ON_TOPIC_SHARED_WITH_TERMS = 4
# The least share of the output's units written in the session's language.
LANGUAGE_SHARE = {"zh": 0.5, "en": 0.6}
# A sentence at least this long may not appear twice in one output.
REPEAT_SENTENCE_UNITS = 10
