"""taskchain: turn a goal into a chain of checked steps, and report what each step produced."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "run"]


def run(request: Any, *, tenant: str = "local") -> dict[str, Any]:
    """Run a whole chain in one call, in the original plugin's contract.

    Uses an in-memory store and the builtin executor; never raises: failures answer
    ``success: false`` with ``error_code`` and ``error``.

    Examples
    --------
    >>> result = run({"task_type": "analysis", "target": "是否开设第二家门店"})
    >>> result["success"], len(result["execution_results"])
    (True, 4)
    """
    from taskchain.bootstrap import bootstrap

    return bootstrap({"TASKCHAIN_STORE": "memory"}).run_safely(request, tenant=tenant)
