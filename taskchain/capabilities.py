"""The capability registry: the built-in capabilities and the ones a request defines inline.

The built-in ones are the ten standard capabilities (理解分析 … 结果整合), in that order, followed
by the ones the creative, education and research template steps use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter

from taskchain.errors import ChainError, chain_error
from taskchain.limits import (
    MAX_CHECKLIST_ITEMS,
    MAX_INLINE_CAPABILITIES,
    MAX_SECTIONS_PER_CAPABILITY,
)
from taskchain.models import Capability, Localized, LocalizedList, SectionRole, SectionSpec

MAX_INLINE_NAME_CHARS = 50
MAX_CHECKLIST_ITEM_CHARS = 300
MAX_SECTION_TITLE_CHARS = 50

_BUILTIN_FILE = "capabilities.json"

# An inline section's title decides its role, so the final report can pick up its findings and
# recommendations. Recommendations are tested first: "结论与建议" is mostly read for its advice.
_RECOMMENDATION_WORDS = ("建议", "下一步", "recommend", "next step")
_FINDING_WORDS = ("结论", "发现", "finding", "conclusion")


def _norm(name: str) -> str:
    """The lookup form of a name: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(name.split()).casefold()


def _lookup_names(capability: Capability) -> tuple[str, ...]:
    """Every name ``capability`` can be resolved by, in lookup form, without repeats."""
    names = (capability.name, capability.key, capability.title_en, *capability.aliases)
    return tuple(dict.fromkeys(_norm(n) for n in names if n.strip()))


class CapabilityRegistry:
    """An immutable, ordered set of capabilities, looked up by any of their names.

    Parameters
    ----------
    capabilities
        The capabilities, in catalogue order.

    Raises
    ------
    ChainError
        Two capabilities share a name, key, English title or alias (case-insensitively).
    """

    __slots__ = ("_capabilities", "_index")

    _capabilities: tuple[Capability, ...]
    _index: Mapping[str, Capability]

    def __init__(self, capabilities: Iterable[Capability]) -> None:
        caps = tuple(capabilities)
        index: dict[str, Capability] = {}
        for capability in caps:
            for name in _lookup_names(capability):
                owner = index.get(name)
                if owner is not None:
                    raise chain_error(
                        f"能力 {capability.name} 的名称 {name} 与已有能力 {owner.name} 冲突",
                        f"capability {capability.name}: the name {name!r} is already used by "
                        f"capability {owner.name}",
                        capability=capability.name,
                        conflicts_with=owner.name,
                        name=name,
                    )
                index[name] = capability
        object.__setattr__(self, "_capabilities", caps)
        object.__setattr__(self, "_index", MappingProxyType(index))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CapabilityRegistry is immutable")

    @classmethod
    def builtin(cls) -> CapabilityRegistry:
        """The registry of the built-in capabilities (the ten standard ones first), loaded once.

        Returns
        -------
        CapabilityRegistry
            The same instance on every call.
        """
        return _builtin()

    def resolve(self, name: str) -> Capability:
        """The capability called ``name``.

        Parameters
        ----------
        name
            Its canonical (Chinese) name, key, English title or an alias; case and surrounding
            whitespace do not matter.

        Returns
        -------
        Capability

        Raises
        ------
        ChainError
            No capability has that name; the message lists the known canonical names and
            ``details`` holds ``{"capability": name, "known": [...]}``.
        """
        capability = self._index.get(_norm(name))
        if capability is None:
            known = list(self.names())
            raise chain_error(
                f"未知能力：{name}（可用：{'、'.join(known)}）",
                f"unknown capability: {name} (known: "
                f"{', '.join(f'{c.name} ({c.key})' for c in self._capabilities)})",
                capability=name,
                known=known,
            )
        return capability

    def with_inline(self, extra: Sequence[Capability]) -> CapabilityRegistry:
        """A new registry with ``extra`` appended; this one is unchanged.

        Parameters
        ----------
        extra
            Capabilities defined by a request, e.g. built with :func:`inline_capability`.

        Returns
        -------
        CapabilityRegistry

        Raises
        ------
        ChainError
            More than ``MAX_INLINE_CAPABILITIES`` capabilities, or one whose name, key or alias
            is already taken by a known capability or by another inline one.
        """
        if len(extra) > MAX_INLINE_CAPABILITIES:
            raise chain_error(
                f"自定义能力最多 {MAX_INLINE_CAPABILITIES} 个，收到 {len(extra)} 个",
                f"at most {MAX_INLINE_CAPABILITIES} inline capabilities, got {len(extra)}",
                limit=MAX_INLINE_CAPABILITIES,
                actual=len(extra),
            )
        return CapabilityRegistry((*self._capabilities, *extra))

    def names(self) -> tuple[str, ...]:
        """The canonical names, in catalogue order."""
        return tuple(c.name for c in self._capabilities)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _norm(name) in self._index

    def __len__(self) -> int:
        return len(self._capabilities)

    def __iter__(self) -> Iterator[Capability]:
        return iter(self._capabilities)

    def __repr__(self) -> str:
        return f"CapabilityRegistry({', '.join(self.names())})"

    def describe(self, language: str) -> list[dict[str, Any]]:
        """The catalogue in ``language`` (Chinese when unknown), one entry per capability.

        Parameters
        ----------
        language
            ``"zh"`` or ``"en"``.

        Returns
        -------
        list of dict
            ``{name, key, title, purpose, checklist, sections, checks, aliases}``: ``title`` is the
            canonical name in Chinese and the English title in English, ``sections`` the section
            titles, ``checks`` the rule ids; checklist items keep their ``{target}`` placeholder.
        """
        return [
            {
                "name": c.name,
                "key": c.key,
                "title": c.title_en if language == "en" else c.name,
                "purpose": c.purpose.get(language),
                "checklist": list(c.checklist.get(language)),
                "sections": [s.title.get(language) for s in c.sections],
                "checks": [check.rule for check in c.checks],
                "aliases": list(c.aliases),
            }
            for c in self._capabilities
        ]


@functools.cache
def _builtin() -> CapabilityRegistry:
    """Load and validate the packaged capabilities (once per process)."""
    text = resources.files("taskchain").joinpath(_BUILTIN_FILE).read_text(encoding="utf-8")
    return CapabilityRegistry(TypeAdapter(tuple[Capability, ...]).validate_json(text))


def inline_capability(name: str, checklist: Sequence[str], sections: Sequence[str]) -> Capability:
    """Turn a request's inline definition ``{name, checklist, sections}`` into a capability.

    The texts are in one language and serve as both the Chinese and the English text. Section
    keys are ``inline_<name>_<i>``; a section titled like findings or conclusions (结论, 发现,
    finding, conclusion) gets the role ``finding``, one titled like recommendations (建议, 下一步,
    recommendation, next step) the role ``recommendation``, any other ``detail``.

    Parameters
    ----------
    name
        The capability's name, at most 50 characters.
    checklist
        1 to ``MAX_CHECKLIST_ITEMS`` questions, each at most 300 characters; they may contain
        the ``{target}`` placeholder.
    sections
        1 to ``MAX_SECTIONS_PER_CAPABILITY`` distinct section titles, each at most 50 characters.

    Returns
    -------
    Capability
        With ``builtin=False`` and no checks beyond the required sections.

    Raises
    ------
    ChainError
        A limit above is broken, or an item is empty.
    """
    name = " ".join(name.split())
    if not name:
        raise chain_error("自定义能力缺少名称", "an inline capability needs a name", field="name")
    if len(name) > MAX_INLINE_NAME_CHARS:
        raise _too_long(name, "name", name, MAX_INLINE_NAME_CHARS)
    items = _texts(name, "checklist", checklist, MAX_CHECKLIST_ITEMS, MAX_CHECKLIST_ITEM_CHARS)
    titles = _texts(
        name, "sections", sections, MAX_SECTIONS_PER_CAPABILITY, MAX_SECTION_TITLE_CHARS
    )
    seen: set[str] = set()
    for title in titles:
        if _norm(title) in seen:
            raise chain_error(
                f"自定义能力 {name} 的输出部分重复：{title}",
                f"inline capability {name} lists the section {title!r} twice",
                capability=name,
                field="sections",
                section=title,
            )
        seen.add(_norm(title))
    slug = _slug(name)
    return Capability(
        name=name,
        key=f"inline_{slug}",
        title_en=name,
        purpose=Localized(
            zh=f"请求中自定义的能力：{name}", en=f"Capability defined by the request: {name}"
        ),
        checklist=LocalizedList(zh=items, en=items),
        sections=tuple(
            SectionSpec(
                key=f"inline_{slug}_{i}",
                title=Localized(zh=title, en=title),
                role=_role(title),
            )
            for i, title in enumerate(titles, 1)
        ),
        builtin=False,
    )


def _texts(
    capability: str, field: str, values: Sequence[str], max_items: int, max_chars: int
) -> tuple[str, ...]:
    """The trimmed items of one inline list, checked against its count and length limits."""
    if isinstance(values, str):  # a bare string is a sequence too; never split it into letters
        values = [values]
    if not 1 <= len(values) <= max_items:
        raise chain_error(
            f"自定义能力 {capability} 的 {field} 需要 1 到 {max_items} 项，收到 {len(values)} 项",
            f"inline capability {capability}: {field} needs 1 to {max_items} items, "
            f"got {len(values)}",
            capability=capability,
            field=field,
            limit=max_items,
            actual=len(values),
        )
    items = tuple(v.strip() for v in values)
    for i, item in enumerate(items):
        if not item:
            raise chain_error(
                f"自定义能力 {capability} 的 {field} 第 {i + 1} 项为空",
                f"inline capability {capability}: {field} item {i + 1} is empty",
                capability=capability,
                field=field,
                index=i,
            )
        if len(item) > max_chars:
            raise _too_long(capability, field, item, max_chars, index=i)
    return items


def _too_long(capability: str, field: str, text: str, limit: int, **details: Any) -> ChainError:
    """The error for an inline text over its length limit."""
    return chain_error(
        f"自定义能力 {capability} 的 {field} 超过 {limit} 个字符（{len(text)} 个）",
        f"inline capability {capability}: {field} is longer than {limit} characters ({len(text)})",
        capability=capability,
        field=field,
        limit=limit,
        actual=len(text),
        **details,
    )


def _slug(name: str) -> str:
    """A key-safe form of ``name``: word characters (CJK included) joined by underscores."""
    return re.sub(r"\W+", "_", name.casefold()).strip("_") or "capability"


def _role(title: str) -> SectionRole:
    """The role an inline section's title suggests."""
    folded = title.casefold()
    if any(word in folded for word in _RECOMMENDATION_WORDS):
        return "recommendation"
    if any(word in folded for word in _FINDING_WORDS):
        return "finding"
    return "detail"
