"""Pydantic models of capabilities, chains, steps, sessions and feedback."""

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from taskchain.limits import DEFAULT_MAX_ATTEMPTS
from taskchain.modelbase import Model
from taskchain.states import FINISHED, StepState

Language = Literal["zh", "en"]
Depth = Literal["basic", "detailed", "comprehensive"]
ExecutionMode = Literal["sequential", "parallel"]
ExecutorName = Literal["builtin", "llm"]
TaskType = Literal["analysis", "creative", "education", "research", "custom"]
SessionStatus = Literal["active", "completed", "completed_with_gaps", "failed"]
SESSION_STATUS_DOC = (
    "会话状态：active 进行中；completed 全部步骤完成；completed_with_gaps 已结束但有步骤被跳过或失败；"
    "failed 没有步骤完成，或按设置在失败后停止。只有 active 可以继续提交（session status）"
)
Severity = Literal["error", "warning", "info"]
SectionRole = Literal["context", "detail", "finding", "recommendation"]

TASK_TYPES: tuple[str, ...] = ("analysis", "creative", "education", "research", "custom")
LANGUAGES: tuple[str, ...] = ("zh", "en")


class Frozen(Model):
    """Base of immutable value objects."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Localized(Frozen):
    """A text in Chinese and English."""

    zh: str
    en: str

    def get(self, language: str) -> str:
        """The text in ``language`` (Chinese when unknown)."""
        return self.en if language == "en" else self.zh


class LocalizedList(Frozen):
    """A list of texts in Chinese and English (the two lists may differ in length)."""

    zh: tuple[str, ...]
    en: tuple[str, ...]

    def get(self, language: str) -> tuple[str, ...]:
        """The list in ``language`` (Chinese when unknown)."""
        return self.en if language == "en" else self.zh


class SectionSpec(Frozen):
    """An output section a step must contain, recognised by its title in either language."""

    key: str
    title: Localized
    aliases: tuple[str, ...] = ()
    role: SectionRole = "detail"

    def names(self) -> tuple[str, ...]:
        """Every title this section may appear under."""
        return (self.title.zh, self.title.en, *self.aliases)


class CheckSpec(Frozen):
    """A check a capability adds to the output of every step that uses it.

    ``min_items``: the section ``section`` holds at least ``count`` separate items (list items,
    numbered lines, table rows, sub-headings or an enumeration in prose).
    ``mentions``: the section (or the whole output) names each group of ``groups`` at least once
    (a group is a set of alternative words in either language).
    ``reasoning``: the section shows at least ``count`` explicit reasoning links (premises followed
    by what they imply, ``→`` chains, if-then or cause-effect sentences).
    """

    kind: Literal["min_items", "mentions", "reasoning"]
    rule: str
    section: str | None = None
    count: int = 1
    groups: tuple[tuple[str, ...], ...] = ()
    with_figures: bool = False  # min_items: only items that carry a figure (a time, amount, target)


class Capability(Frozen):
    """A thinking capability: what it is for, the questions it asks, the sections it requires."""

    name: str  # canonical (Chinese) name, e.g. 理解分析
    key: str  # English slug, e.g. understanding
    title_en: str
    aliases: tuple[str, ...] = ()
    purpose: Localized
    checklist: LocalizedList
    sections: tuple[SectionSpec, ...]
    checks: tuple[CheckSpec, ...] = ()
    builtin: bool = True


class ValidationRules(Frozen):
    """Per-step overrides of the objective checks (``None`` keeps the default)."""

    min_length: int | None = Field(default=None, ge=0, description="产出最少字数（minimum length）")
    max_length: int | None = Field(default=None, ge=1, description="产出最多字数（maximum length）")
    required_sections: tuple[str, ...] | None = Field(
        default=None, description="必须包含的小节标题（required section titles）"
    )
    require_focus_areas: bool = Field(
        default=True,
        description="是否要求具体讨论每个关注点，默认要求（require each focus area to be discussed）",
    )
    max_similarity: float = Field(
        default=0.65,
        gt=0,
        le=1,
        description="与任一已完成步骤产出的实词重合比例上限，0 到 1，默认 0.65"
        "（maximum share of content words shared with an earlier output）",
    )
    skip_rules: tuple[str, ...] = Field(
        default=(),  # rule ids switched off for this step (see rules.SKIPPABLE)
        description="这一步关闭的检查规则 ID：focus_area、on_topic、no_filler、concrete、no_internal_repeat、"
        "language、not_repeat，或所用能力的检查（如 risks_rated）（rule ids switched off for this step）",
    )
    json_schema: dict[str, Any] | None = Field(
        default=None, description="产出须符合的 JSON Schema（a JSON Schema the output must match）"
    )


class StepSpec(Frozen):
    """One step of a resolved chain."""

    id: str
    name: str
    description: str
    capabilities: tuple[str, ...]  # canonical capability names
    dependencies: tuple[str, ...] = ()
    validation_rules: ValidationRules = ValidationRules()
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


class ChainConfig(Frozen):
    """How a chain is worked: depth, focus areas, language, ordering, failure policy."""

    depth: Depth = "detailed"
    focus_areas: tuple[str, ...] = ()
    language: Language = "zh"
    execution_mode: ExecutionMode = "sequential"
    continue_on_failure: bool = True
    # Who writes the outputs of a one-shot or async run; ``None``: a guided session, whose steps
    # the caller submits (the run operations refuse it). Sessions stored before this field could
    # be ``None`` say ``builtin``.
    executor: ExecutorName | None = "builtin"
    # A run handed to an engine that works it to its end (``start_run`` with a launcher): its
    # progress says to follow it; any other run's says to continue it.
    background: bool = False


class ChainDefinition(Frozen):
    """The immutable part of a session: what is to be done, written once at creation."""

    task_type: TaskType
    target: str
    config: ChainConfig
    steps: tuple[StepSpec, ...]
    template: str | None = None  # the built-in template the chain came from, if any
    capabilities: tuple[Capability, ...] = ()  # inline capabilities defined by the request

    def step(self, step_id: str) -> StepSpec | None:
        """The step with ``step_id``, or ``None``."""
        for spec in self.steps:
            if spec.id == step_id:
                return spec
        return None


RuleKind = Literal[
    "length",
    "section",
    "min_items",
    "mentions",
    "reasoning",
    "focus_area",
    "on_topic",
    "no_filler",
    "concrete",
    "no_internal_repeat",
    "language",
    "not_repeat",
    "json_schema",
]


class Rule(Frozen):
    """One rule a step's output is judged by, stated before the output is written.

    ``rule`` is the id that feedback entries carry; ``description`` says in the session's
    language what passes. The other fields are the rule's parameters (``null`` when a rule
    has no such parameter).
    """

    rule: str = Field(description="规则 ID，与 feedback 中的 rule 对应（rule id, as in feedback）")
    kind: RuleKind = Field(description="规则类型（rule kind）")
    severity: Severity = Field(
        default="error",
        description="error 表示不通过就会被退回（severity: error rejects the output）",
    )
    description: str = Field(
        description="怎样算通过，用会话语言写明（what passes, in the session's language）"
    )
    section: str | None = Field(
        default=None, description="规则针对的小节标题（the section the rule judges）"
    )
    aliases: tuple[str, ...] | None = Field(
        default=None,
        description="该小节也认可的其他标题（other titles the section is recognised by）",
    )
    min_items: int | None = Field(default=None, description="至少几条（minimum number of items）")
    with_figures: bool | None = Field(
        default=None, description="只计带数字的条目（count only items that carry a figure）"
    )
    min_units: int | None = Field(
        default=None, description="至少多少字（minimum length in units: characters or words）"
    )
    max_units: int | None = Field(
        default=None, description="至多多少字（maximum length in units: characters or words）"
    )
    min_links: int | None = Field(
        default=None, description="至少几处明确的推理链接（minimum reasoning links）"
    )
    area: str | None = Field(default=None, description="关注点（the focus area）")
    terms: tuple[str, ...] | None = Field(
        default=None, description="应当出现的词（terms the output should use）"
    )
    min_share: float | None = Field(
        default=None, description="所需语言文字的最低占比（minimum share of the expected language）"
    )
    max_share: float | None = Field(
        default=None, description="空话、套话的最高占比（maximum share of filler）"
    )
    max_similarity: float | None = Field(
        default=None, description="与之前产出的最高相似度（maximum similarity to earlier outputs）"
    )
    groups: tuple[tuple[str, ...], ...] | None = Field(
        default=None, description="每组至少提到一个词（word groups, each to be named once）"
    )
    top_words: int | None = Field(
        default=None,
        description="读取产出中最常用的多少个词（how many of the most used words are read）",
    )
    min_shared: int | None = Field(
        default=None,
        description="其中至少几个须是任务链已用过的词（how many of them the chain must already use）",
    )
    min_shared_with_terms: int | None = Field(
        default=None,
        description="产出用到目标中的词时所需的共有词数（enough shared words when the target's words appear）",
    )


class Feedback(Frozen):
    """The verdict of one objective check on a submitted output."""

    rule: str = Field(description="规则 ID（rule id）")
    passed: bool = Field(description="是否通过（passed）")
    severity: Severity = Field(description="error 表示不通过就会被退回（severity）")
    message: str = Field(description="检查结果说明（what the check found）")
    hint: str = Field(default="", description="没通过时怎样修改（how to fix it）")


class Fingerprint(Frozen):
    """What the checks of later steps read of an accepted output, kept with its step.

    Computed once, when the output is accepted (:func:`taskchain.validation.earlier.fingerprint`),
    so a later submit compares against it without reading the output again: step 20 costs
    what step 2 costs.

    Attributes
    ----------
    words : str
        Its distinct content words, space-separated, in order of first use, less the words of
        the target and the focus areas (no check compares those): ``not_repeat``'s overlap and
        ``on_topic``'s "words the chain has used".
    topic : tuple of str
        The pieces of the target's key terms it uses outside quotations of the whole target:
        ``on_topic``'s "target's words the chain itself has used".
    """

    words: str = ""
    topic: tuple[str, ...] = ()


class Usage(Frozen):
    """What a step's model calls cost, over all its attempts (tokens as the provider counts)."""

    calls: int = Field(
        default=0, description="模型调用次数，含重试（model calls, retries included）"
    )
    prompt_tokens: int = Field(default=0, description="输入 token 数（prompt tokens）")
    completion_tokens: int = Field(default=0, description="输出 token 数（completion tokens）")
    latency: float = Field(default=0.0, description="等待模型的时间，秒（seconds waiting on it）")

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            latency=round(self.latency + other.latency, 6),
        )


class StepRecord(Frozen):
    """The mutable state of one step in a session.

    ``changed_in`` is the session version in which the record last changed: a store that writes
    per-step items writes only the records with ``changed_in == session.version``.
    ``fingerprint`` is set with an accepted output (absent from records stored before it
    existed; the checks then read the output itself).
    """

    step_id: str
    state: StepState = StepState.PENDING
    attempts: int = 0
    output: str | None = None
    summary: str | None = None
    reason: str | None = None  # why a step was skipped or failed
    # Who produced the output: "builtin" or "llm" (a run's executor), or "guided" (the caller of
    # the guided flow, a model or a person). Records stored before "guided" say "model".
    executor: str | None = None
    feedback: tuple[Feedback, ...] = ()  # the verdicts on the latest attempt
    ready_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None  # seconds spent producing the accepted output, if measured
    changed_in: int = 1
    fingerprint: Fingerprint | None = None  # what later steps' checks read of the output
    model: str | None = None  # the model that wrote the latest attempt (model executors)
    usage: Usage | None = None  # model calls and tokens of every attempt (model executors)

    @field_validator("executor", mode="before")
    @classmethod
    def _documented_executor(cls, value: object) -> object:
        """The documented name of a record's executor (``model`` became ``guided``)."""
        return "guided" if value == "model" else value

    @property
    def finished(self) -> bool:
        """Whether the step reached a final state."""
        return self.state in FINISHED


class Session(Frozen):
    """A chain being worked through, scoped to a tenant, versioned for optimistic concurrency.

    ``status`` is ``active`` while steps remain; once every step has finished it is ``completed``
    (all completed), ``completed_with_gaps`` (some skipped or failed) or ``failed`` (none
    completed). A failed step also makes it ``failed`` when ``continue_on_failure`` is false.
    """

    session_id: str
    tenant: str
    end_user: str | None = None
    version: int = 1
    status: SessionStatus = "active"
    definition: ChainDefinition
    records: dict[str, StepRecord]
    created_at: float
    updated_at: float
    expires_at: float | None = None

    @property
    def language(self) -> str:
        """The session's language."""
        return self.definition.config.language

    def record(self, step_id: str) -> StepRecord:
        """The record of ``step_id`` (the caller has checked the step exists)."""
        return self.records[step_id]

    def count(self, state: StepState) -> int:
        """How many steps are in ``state``."""
        return sum(1 for r in self.records.values() if r.state is state)

    def expired(self, now: float) -> bool:
        """Whether the session's lifetime has run out at ``now``."""
        return self.expires_at is not None and self.expires_at <= now
