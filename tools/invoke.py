"""``python -m tools.invoke EVENT.json``: run a platform shell on one event, like ``sam local invoke -e``.

A file under ``events/aliyun/`` goes to the Aliyun FC shell (as the bytes FC would pass); any
other to the Lambda shell. The handler is built from this process's environment, as at a cold
start; the event file is used as is (``{{session_id}}`` placeholders are not substituted). The
response is printed as JSON on stdout; logs and metrics go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from taskchain.config import ConfigError
from taskchain.http.events import LocalContext


class _FcContext:
    """What FC's ``context`` carries that the FC shell reads."""

    request_id = "local-invoke"


def main(argv: list[str] | None = None) -> int:
    """Invoke the handler once; exit 2 on unusable configuration or event file."""
    parser = argparse.ArgumentParser(prog="python -m tools.invoke", description=__doc__)
    parser.add_argument("event", help="event JSON file ('-' reads stdin)")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text("utf-8")
        event = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"taskchain: cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2
    # Logs and EMF metrics go to stderr here, so stdout holds only the response.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            if "aliyun" in Path(args.event).parts:
                from handlers import aliyun_fc

                response = aliyun_fc.handler(text.encode(), _FcContext())
            else:
                from handlers.aws_lambda import handler  # the cold start happens here

                response = handler(event, LocalContext())
        except ConfigError as exc:
            print(f"taskchain: {exc.message('en')}", file=sys.stderr)
            return 2
    print(json.dumps(response, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
