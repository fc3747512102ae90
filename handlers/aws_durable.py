"""AWS Lambda durable function, ``handlers.aws_durable.handler``: works one run to its end.

The API function's ``DurableLauncher`` invokes it asynchronously, by its alias, with
``{tenant, run_id, end_user}``. Each durable step works one batch of the run's ready steps and
checkpoints a small summary (:func:`taskchain.launchers.work_batch`): the run itself lives in the
session store, saved after every batch with a version check, so a step run again after an
interruption continues where the session is. When this invocation has too little time left for
another batch, the function waits a second: Lambda ends the invocation and replays the handler
in a fresh one, where the checkpointed steps answer their summaries without running again.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.serdes import JsonSerDes

from taskchain.bootstrap import bootstrap
from taskchain.errors import ConflictError, StoreError
from taskchain.launchers import MAX_BATCHES, RunRef, batch_name, look, work_batch

service = bootstrap()  # at cold start: an invalid configuration fails here, naming the variable
# Checkpoints are plain JSON. A store outage, or a save that met another one (the run continued
# over HTTP meanwhile), is retried with backoff; any other error ends the execution (the run
# stays stored, and can be continued over HTTP).
RETRIED = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(max_attempts=6, retryable_error_types=[StoreError, ConflictError])
    ),
    serdes=JsonSerDes(),
)


@durable_execution
def handler(event: Any, context: DurableContext) -> dict[str, Any]:
    """Work the run in ``event`` one checkpointed batch at a time until it ends."""
    ref = RunRef.from_event(event)

    def remaining_ms() -> float:
        lambda_context = context.lambda_context
        return float(lambda_context.get_remaining_time_in_millis()) if lambda_context else 0.0

    state = context.step(lambda _: look(service, ref, remaining_ms), name="status", config=RETRIED)
    for n in range(MAX_BATCHES):
        if state["status"] != "running":
            break
        if state["pause"]:
            context.wait(Duration.from_seconds(1), name=f"fresh invocation {n}")
        state = context.step(
            lambda _: work_batch(service, ref, remaining_ms), name=batch_name(state), config=RETRIED
        )
    return state
