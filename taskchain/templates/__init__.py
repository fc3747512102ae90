"""The built-in chains (analysis, creative, education, research) as data, in Chinese and English."""

import functools
from importlib import resources
from typing import Annotated, Any

from pydantic import Field

from taskchain.errors import InvalidRequestError, invalid_field
from taskchain.models import Frozen, Localized, LocalizedList, StepSpec

TEMPLATE_KEYS: tuple[str, ...] = ("analysis", "creative", "education", "research")

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class TemplateStep(Frozen):
    """One step of a built-in chain, named and described in both languages."""

    id: StepId
    name: Localized
    description: Localized
    capabilities: tuple[str, ...] = Field(min_length=1)  # canonical capability names
    dependencies: tuple[StepId, ...] = ()


class Template(Frozen):
    """A built-in chain: what it is for, how to find it, and its steps in chain order."""

    key: str
    name: Localized
    description: Localized
    category: str
    tags: LocalizedList
    steps: tuple[TemplateStep, ...] = Field(min_length=1)

    def step_specs(self, language: str) -> tuple[StepSpec, ...]:
        """The steps as :class:`~taskchain.models.StepSpec`, named in ``language``.

        Parameters
        ----------
        language
            ``"zh"`` or ``"en"`` (Chinese when unknown).

        Returns
        -------
        tuple of StepSpec
            In the template's order, with default validation rules and attempts.
        """
        return tuple(
            StepSpec(
                id=step.id,
                name=step.name.get(language),
                description=step.description.get(language),
                capabilities=step.capabilities,
                dependencies=step.dependencies,
            )
            for step in self.steps
        )

    def matches(self, search: str) -> bool:
        """Whether ``search`` occurs, case-insensitively, in the key, name, description or tags.

        Both languages are searched whatever the display language, so ``"分析"`` and
        ``"analysis"`` find the same template.
        """
        needle = search.strip().casefold()
        haystack = (
            self.key,
            self.name.zh,
            self.name.en,
            self.description.zh,
            self.description.en,
            *self.tags.zh,
            *self.tags.en,
        )
        return any(needle in text.casefold() for text in haystack)

    def summary(self, language: str) -> dict[str, Any]:
        """The catalogue entry in ``language``: key, name, description, category, tags, steps."""
        return {
            "key": self.key,
            "name": self.name.get(language),
            "description": self.description.get(language),
            "category": self.category,
            "tags": list(self.tags.get(language)),
            "steps": [{"id": s.id, "name": s.name.get(language)} for s in self.steps],
        }


def load_template(key: str) -> Template:
    """The built-in template ``key``, loaded and validated once.

    Parameters
    ----------
    key
        One of :data:`TEMPLATE_KEYS`.

    Returns
    -------
    Template

    Raises
    ------
    InvalidRequestError
        ``INVALID_TASK_TYPE`` for an unknown key; ``details`` holds
        ``{"task_type": key, "allowed": [...]}``.
    """
    if key not in TEMPLATE_KEYS:
        allowed = list(TEMPLATE_KEYS)
        raise InvalidRequestError(
            f"未知的任务类型：{key}（可选：{'、'.join(allowed)}）",
            f"unknown task type: {key} (allowed: {', '.join(allowed)})",
            code="INVALID_TASK_TYPE",
            details={"task_type": key, "allowed": allowed},
        )
    return _load(key)


@functools.cache
def _load(key: str) -> Template:
    """Read and validate the packaged ``<key>.json`` (once per process)."""
    text = resources.files(__name__).joinpath(f"{key}.json").read_text(encoding="utf-8")
    template = Template.model_validate_json(text)
    if template.key != key:  # a renamed file would otherwise serve the wrong chain silently
        raise ValueError(f"templates/{key}.json declares key {template.key!r}")
    return template


def catalogue(
    language: str,
    *,
    category: str | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The built-in templates, summarised in ``language``, optionally filtered.

    Parameters
    ----------
    language
        ``"zh"`` or ``"en"`` (Chinese when unknown).
    category
        Keep only templates of this category (case-insensitive).
    search
        Keep only templates whose key, name, description or tags contain this text, in either
        language, case-insensitively; blank means no filter.
    limit
        At most this many entries (``None``: all).

    Returns
    -------
    list of dict
        ``{key, name, description, category, tags, steps: [{id, name}]}`` in catalogue order.

    Raises
    ------
    InvalidRequestError
        ``limit`` is negative.
    """
    if limit is not None and limit < 0:
        raise invalid_field("limit", "不能为负数", "must not be negative", value=limit)
    templates = [load_template(key) for key in TEMPLATE_KEYS]
    if category is not None and category.strip():
        wanted = category.strip().casefold()
        templates = [t for t in templates if t.category.casefold() == wanted]
    if search is not None and search.strip():
        templates = [t for t in templates if t.matches(search)]
    if limit is not None:
        templates = templates[:limit]
    return [t.summary(language) for t in templates]
