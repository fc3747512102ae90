"""What a step's checks derive from its chain alone, kept per chain object between submits.

A chain definition never changes once a session starts, and a store hands back the same
definition object for a session while it stays among the recently read (see
``taskchain.store.sqlite_layout``). So the rules of a step and the words of its instructions
are worked out once per definition object and step, not at every submit. Objects are matched
by identity (the key keeps them alive, so an id is never another object's), never by value:
hashing a definition would cost what deriving from it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ByIdentity(Generic[T]):
    """Values derived from some objects and a step id, found again by those objects' identity.

    Holds at most ``size`` values; past that it starts afresh (a server reads far fewer
    chains than that between two submits of one session).
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._values: dict[tuple[object, ...], tuple[tuple[object, ...], T]] = {}

    def get(self, objects: tuple[object, ...], step_id: str, derive: Callable[[], T]) -> T:
        """The value derived from ``objects`` for ``step_id``: kept, or ``derive()`` now."""
        key = (*map(id, objects), step_id)
        kept = self._values.get(key)
        if kept is not None and all(a is b for a, b in zip(kept[0], objects, strict=True)):
            return kept[1]
        value = derive()
        if len(self._values) >= self._size:
            self._values.clear()
        self._values[key] = (objects, value)
        return value
