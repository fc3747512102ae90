"""Print every step's instructions of a chain, as a model would receive them one by one.

    python -m tools.instructions --task-type analysis --target "…" --focus 成本 [--language en]
        [--depth detailed] [--outputs DIR]

With ``--outputs DIR``, a file ``DIR/<step_id>.md`` stands for that step's accepted output, so
later steps show the context digest they would get. Nothing is checked or stored.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from taskchain import engine
from taskchain.chain import build
from taskchain.guidance import guide
from taskchain.requests import ChainRequest
from taskchain.states import StepState


def main(argv: list[str] | None = None) -> int:
    """Print the instructions of every step in chain order."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task-type", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--focus", action="append", default=[])
    parser.add_argument("--language", default="zh")
    parser.add_argument("--depth", default="detailed")
    parser.add_argument("--outputs", type=Path)
    args = parser.parse_args(argv)
    request = ChainRequest.model_validate(
        {
            "task_type": args.task_type,
            "target": args.target,
            "config": {"focus_areas": args.focus, "language": args.language, "depth": args.depth},
        }
    )
    definition, registry = build(request)
    session = engine.start(definition, session_id="preview", tenant="preview", now=0.0)
    for step in definition.steps:
        print(f"===== {step.id} =====")
        print(guide(session, step.id, registry).instructions)
        print()
        path = args.outputs / f"{step.id}.md" if args.outputs else None
        output = (
            path.read_text(encoding="utf-8")
            if path and path.exists()
            else ("(sample output)" if args.language == "en" else "（示例输出）")
        )
        records = dict(session.records)
        records[step.id] = records[step.id].model_copy(
            update={"state": StepState.COMPLETED, "output": output}
        )
        for later in definition.steps:
            if records[later.id].state is StepState.PENDING:
                records[later.id] = records[later.id].model_copy(update={"state": StepState.READY})
        session = session.model_copy(update={"records": records})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
