"""The base of every taskchain model: built on first use, not at import.

Building a pydantic model (its schema, validator and serializer) costs about 1–2 ms, and a
model that nests others builds their schemas again inside its own. Built at import, taskchain's
~70 models made most of the cold start beyond its dependencies (``bench/cold_start.py``). A
request uses a few of them: a model is built when it first validates or dumps, and the models
it only nests inside others are never built on their own. Deferred builds are made
thread-safe here, on import, before any model can be used.

The modules that define models do without ``from __future__ import annotations``: pydantic
would otherwise evaluate each field's annotation from its text when the class is created,
about a fifth of what creating a deferred model costs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict


def serialize_model_builds() -> None:
    """Build a deferred pydantic model once, under one lock, when threads first use it together.

    Every :class:`Model` is built on first use rather than at cold start. Before pydantic 2.14
    that build is not thread-safe (pydantic#13419): two requests using such a model for the first
    time at once (FC serves up to 10 per instance, the local server one per thread) can both
    rebuild it, and a third may meanwhile validate with the base class's validator. This puts
    ``model_rebuild`` under the one reentrant lock pydantic 2.14 added (pydantic#13438); with
    pydantic >= 2.14 it does nothing. Called on import: before any thread can use a model.
    """
    import pydantic.main

    if hasattr(pydantic.main, "_rebuild_lock") or hasattr(BaseModel.model_rebuild, "_serialized"):
        return
    rebuild: Callable[..., bool | None] = vars(BaseModel)["model_rebuild"].__func__
    lock = threading.RLock()

    def model_rebuild(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        if cls.__pydantic_complete__ and not force:
            return None  # built: no lock once a model is ready
        with lock:  # pydantic checks again inside: the thread that waited finds it built
            return rebuild(
                cls,
                force=force,
                raise_errors=raise_errors,
                # One frame more (this one) between pydantic and the caller whose names it reads.
                _parent_namespace_depth=_parent_namespace_depth + (_parent_namespace_depth > 0),
                _types_namespace=_types_namespace,
            )

    model_rebuild._serialized = True  # type: ignore[attr-defined]
    BaseModel.model_rebuild = classmethod(model_rebuild)  # type: ignore[assignment,method-assign]


serialize_model_builds()


class Model(BaseModel):
    """Base of taskchain's models: each is built on its first use (see the module's docstring)."""

    model_config = ConfigDict(defer_build=True)
