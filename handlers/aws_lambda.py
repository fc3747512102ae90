"""AWS Lambda entrypoint, ``handlers.aws_lambda.handler``: everything is built at cold start.

Function URL events (payload 2.0) go to the HTTP application, which requires a service token;
any other event is a direct invocation of the one-shot contract (a request dict or its JSON
text), authorised by IAM, that never raises. Invalid configuration raises ``ConfigError`` here,
naming the variable, so a broken deployment fails at cold start rather than on a request.
"""

from __future__ import annotations

from taskchain.bootstrap import cached_handler

handler = cached_handler()

__all__ = ["handler"]
