"""Limits promised to users; every one is enforced with a clear error."""

from __future__ import annotations

MAX_TARGET_CHARS = 1000
MAX_STEPS = 20
MAX_STEP_NAME_CHARS = 100
MAX_STEP_DESCRIPTION_CHARS = 1000
MAX_FOCUS_AREAS = 10
MAX_FOCUS_AREA_CHARS = 50
MAX_OUTPUT_CHARS = 20_000
MAX_REASON_CHARS = 500
MAX_INLINE_CAPABILITIES = 10
MAX_CHECKLIST_ITEMS = 10
MAX_SECTIONS_PER_CAPABILITY = 6
MAX_CAPABILITIES_PER_STEP = 6
# Listings: one page holds at most this many sessions (the routes, the CLI and every store).
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_CURSOR_CHARS = 512
DEFAULT_MAX_ATTEMPTS = 3
MAX_MAX_ATTEMPTS = 10
# Guidance carries a digest of the steps a step depends on; bounded so a 20-step chain stays small.
DIGEST_CHARS_PER_STEP = 500
DIGEST_TOTAL_CHARS = 1500
SUMMARY_CHARS = 160
