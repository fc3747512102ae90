"""Local shell: a loopback HTTP server that turns each request into a function-URL event.

    python -m handlers.local_server [--host 127.0.0.1] [--port 8080]

The same handler Lambda runs serves every request (see :mod:`taskchain.http.local`), on the
embedded SQLite store unless ``TASKCHAIN_STORE`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys

from taskchain.http.local import run


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; a configuration or bind error is one line and exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m handlers.local_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    args = parser.parse_args(argv)
    return run(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
