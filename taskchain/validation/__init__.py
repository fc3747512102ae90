"""Objective checks of a submitted step output: the rules a step states, and their verdicts.

``rules.py`` derives the rules a step's output is judged by (shown before the output is
written); ``checks.py`` applies them. Nothing is judged that is not among the step's rules.
"""

from __future__ import annotations

from taskchain.validation.checks import Verdict, check
from taskchain.validation.rules import (
    SKIPPABLE,
    compiled_schema,
    length_bounds,
    required_sections,
    rules_for,
)
from taskchain.validation.thresholds import DEPTH_BOUNDS

__all__ = [
    "DEPTH_BOUNDS",
    "SKIPPABLE",
    "Verdict",
    "check",
    "compiled_schema",
    "length_bounds",
    "required_sections",
    "rules_for",
]
