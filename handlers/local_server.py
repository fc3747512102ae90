"""Local shell: a loopback HTTP server that turns each request into a function-URL event.

    python -m handlers.local_server [--host 127.0.0.1] [--port 8080]

The same handler Lambda runs serves every request (see :mod:`taskchain.http.local`), on the
embedded SQLite store unless ``TASKCHAIN_STORE`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys

from taskchain.config import ConfigError
from taskchain.http.local import serve


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; a configuration or bind error is one line and exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m handlers.local_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port)
    except ConfigError as exc:
        print(f"taskchain: {exc.message('en')}", file=sys.stderr)
        return 2
    except OSError as exc:  # the port is taken, or the address cannot be bound
        print(
            f"taskchain: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
