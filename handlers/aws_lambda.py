"""The Lambda entrypoint, ``handlers.aws_lambda.handler``, built once per process at cold start.

Importing this module reads and checks the configuration, loads the service tokens (from the
environment or the SSM parameter), and builds the store and the resolver; warm invocations
reuse all of it. Invalid configuration raises :class:`taskchain.config.ConfigError` here,
naming the variable, so a broken deployment fails at cold start rather than on a request.

Function URL events (payload 2.0) go to the HTTP API (:mod:`handlers.api`), which requires a
service token. Any other event is a direct invocation in the original plugin's shape (a request
dict, or its JSON text): it runs the one-shot contract as tenant ``"direct"`` and never raises.
Direct invocation is authorised by IAM (``lambda:InvokeFunction``), not by service tokens.

Tests build handlers with :func:`handlers.app.make_handler` instead, so they do not depend on
the environment this module is imported in.
"""

from __future__ import annotations

from handlers.app import make_handler

handler = make_handler()

__all__ = ["handler"]
