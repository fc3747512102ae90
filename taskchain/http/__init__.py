"""The one HTTP application: Powertools routers (REST and Coze), errors, auth, idempotency, OpenAPI.

Every platform shell in ``handlers/`` hands its events to the handler :func:`taskchain.bootstrap.make_handler` builds,
which serves them through this package; nothing here knows which cloud it runs on except the
event translations in :mod:`taskchain.http.events`.
"""
