"""The embedded store's files: where they live, and what the store writes to them."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

_BLOB_LITERAL = re.compile(r"[xX]'([0-9a-fA-F]*)'")
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteMeter:
    """Counts what a store asks SQLite to write; pass one as ``SqliteStore(trace=...)``.

    SQLite hands the trace every statement with its bound values written in (its
    ``sqlite3_expanded_sql``). The meter adds up the UTF-8 bytes of every ``INSERT``, ``UPDATE``
    and ``DELETE`` so written, a BLOB counted at its size rather than as the hex that spells it:
    the values stored plus the statement around them, so never less than the row data changed.

    Attributes
    ----------
    bytes : int
        The bytes counted so far.
    statements : int
        The writing statements counted so far.
    """

    def __init__(self) -> None:
        self.bytes = 0
        self.statements = 0

    def __call__(self, statement: str) -> None:
        if not statement.lstrip()[:7].upper().startswith(_WRITES):
            return  # reads, BEGIN/COMMIT, and the "-- TRIGGER" lines of a trigger's statements
        text = _BLOB_LITERAL.sub(lambda blob: "b" * (len(blob[1]) // 2), statement)
        self.bytes += len(text.encode())
        self.statements += 1


def default_home(*, environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The directory taskchain keeps its data in, created if missing.

    ``$TASKCHAIN_HOME`` when set; otherwise the user's data directory:
    ``$XDG_DATA_HOME/taskchain`` or ``~/.local/share/taskchain`` on Linux,
    ``~/Library/Application Support/taskchain`` on macOS, ``%LOCALAPPDATA%\\taskchain`` on
    Windows.

    Parameters
    ----------
    environ
        The environment to read (``os.environ`` by default).
    platform
        The platform to resolve for (``sys.platform`` by default).

    Returns
    -------
    Path
        The directory, which exists on return.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if env.get("TASKCHAIN_HOME"):
        home = Path(env["TASKCHAIN_HOME"]).expanduser()
    elif plat == "win32":
        local = env.get("LOCALAPPDATA")
        home = (Path(local) if local else Path.home() / "AppData" / "Local") / "taskchain"
    elif plat == "darwin":
        home = Path.home() / "Library" / "Application Support" / "taskchain"
    else:
        # The XDG spec says a relative path is invalid and must be ignored.
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
        home = base / "taskchain"
    home.mkdir(parents=True, exist_ok=True)
    return home


__all__ = ["WriteMeter", "default_home"]
