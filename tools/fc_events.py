"""Write events/aliyun/: every sample event of events/ in the shape Aliyun FC 3.0 delivers it.

    python -m tools.fc_events

An HTTP-trigger event (``version``, ``rawPath``, ``headers`` with repeated values comma-joined,
``queryParameters``, ``body``, ``isBase64Encoded``, ``requestContext{accountId, domainName,
http{method, path, protocol, sourceIp, userAgent}, requestId, time, timeEpoch}``) for each
function-URL event; the same JSON as an event invocation for each direct one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"
OUT = EVENTS / "aliyun"
ACCOUNT = "1234567890123456"
DOMAIN = "taskchain-abcdefghij.cn-hangzhou.fcapp.run"


def to_fc(event: dict[str, Any]) -> dict[str, Any]:
    """The FC HTTP-trigger form of a function-URL (payload 2.0) event."""
    context = event["requestContext"]
    http = context["http"]
    out: dict[str, Any] = {
        "version": "v1",
        "rawPath": event["rawPath"],
        "headers": {
            k.title(): v
            for k, v in event.get("headers", {}).items()
            if k != "host" and not k.startswith("x-amzn")
        },
        "queryParameters": dict(event.get("queryStringParameters") or {}),
        "body": event.get("body", ""),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
        "requestContext": {
            "accountId": ACCOUNT,
            "domainName": DOMAIN,
            "domainPrefix": "taskchain-abcdefghij",
            "http": {
                "method": http["method"],
                "path": http["path"],
                "protocol": http.get("protocol", "HTTP/1.1"),
                "sourceIp": http.get("sourceIp", "203.0.113.7"),
                "userAgent": http.get("userAgent", "curl/8.5.0"),
            },
            "requestId": context.get("requestId") or "1-6750a1b2-0123456789abcdef",
            "time": "2026-11-30T02:00:00Z",
            "timeEpoch": "1795917600000",
        },
    }
    return out


def main() -> int:
    """Regenerate events/aliyun/ from events/."""
    OUT.mkdir(exist_ok=True)
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        is_http = isinstance(event, dict) and event.get("version") == "2.0"
        fc = to_fc(event) if is_http else event
        (OUT / path.name).write_text(
            json.dumps(fc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
