"""The error body every route and platform renders (:meth:`TaskchainError.to_body`), as models
for the OpenAPI documents: the keys an error's ``details`` can carry are declared, so a caller
(and Coze, which keeps declared fields only) gets every one."""

from pydantic import Field

from taskchain.modelbase import Model
from taskchain.responses import SUCCESS_DOC


class ErrorDetails(Model):
    """The keys an error's ``details`` can carry (the ones a caller acts on)."""

    field: str | None = Field(default=None, description="出错的字段（the field）")
    session_id: str | None = Field(default=None, description="会话 ID（session id）")
    step_id: str | None = Field(default=None, description="步骤 ID（step id）")
    status: str | None = Field(default=None, description="会话状态（session status）")
    state: str | None = Field(default=None, description="步骤状态（step state）")
    steps: list[str] | None = Field(default=None, description="会话的全部步骤 ID（step ids）")
    ready_steps: list[str] | None = Field(
        default=None, description="现在可以做的步骤 ID（ready step ids）"
    )
    expected_version: int | None = Field(default=None, description="期望的版本（expected version）")
    current_version: int | None = Field(default=None, description="当前版本（current version）")
    allowed: list[str] | None = Field(default=None, description="可选的值（allowed values）")
    limit: int | None = Field(default=None, description="上限（the limit）")
    cycle: list[str] | None = Field(default=None, description="依赖环上的步骤（the cycle）")
    retry_after: float | None = Field(default=None, description="几秒后重试（retry after seconds）")
    reason: str | None = Field(default=None, description="原因（reason）")
    run_id: str | None = Field(default=None, description="运行 ID（run id）")
    capability: str | None = Field(default=None, description="出错的能力名称（the capability）")
    known: list[str] | None = Field(
        default=None, description="可用的能力名称（known capabilities）"
    )
    dependency: str | None = Field(default=None, description="找不到的依赖步骤（the dependency）")
    known_steps: list[str] | None = Field(
        default=None, description="链中已有的步骤 ID（the chain's step ids）"
    )
    unknown: list[str] | None = Field(default=None, description="无法识别的规则 ID（unknown ids）")
    conflicts_with: str | None = Field(
        default=None, description="与之重名的能力（the capability it clashes with）"
    )
    name: str | None = Field(default=None, description="重复或出错的名称（the name）")
    section: str | None = Field(default=None, description="出错的小节（the section）")
    index: int | None = Field(default=None, description="出错条目的序号（the item's index）")
    actual: int | None = Field(default=None, description="实际的数量或长度（the actual count）")


class ErrorBody(Model):
    """The error body every route and platform renders (:meth:`TaskchainError.to_body`)."""

    success: bool = Field(default=False, description=SUCCESS_DOC)
    error_code: str = Field(
        description="错误码，如 MISSING_REQUIRED_FIELD、STEP_NOT_READY、STALE_VERSION（error code）"
    )
    category: str = Field(description="错误类别（error category）")
    error: str = Field(
        description="错误说明：出了什么问题、怎样改正（what went wrong and how to fix it）"
    )
    details: ErrorDetails = Field(description="错误的结构化细节（error details）")
