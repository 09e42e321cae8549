"""The short path of ``POST /accounts/{account_id}/orders``: the hot route without FastAPI's
per-request machinery.

FastAPI's route (``_routes.place_order``) stays what OpenAPI documents and what answers every
request this path does not take. This one, in front of it (a middleware), takes a well-formed
request: a JSON body that ``NewOrder`` accepts and an acceptable ``Idempotency-Key``. It runs
the same rules (``_routes.place``) on the same thread pool and answers with the same bytes
(``Order``'s validation and serializer, the error handler's body); anything else (a body that
does not parse or validate, another content type, a bad header) is handed to FastAPI's routing
with the body it read, so every refusal keeps FastAPI's 422 and its shape.

Measured in-process (bench/trading_route.py), FastAPI's route (dependency solving, the body
and header fields, the response model) costs 0.5-0.8 ms of CPU per order more than this path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import pydantic
from starlette.responses import JSONResponse, Response

from pgwarden.blueprints.trading.api import _models as m
from pgwarden.blueprints.trading.api import _routes
from pgwarden.blueprints.trading.services import Trading, TradingError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PATH = re.compile(r"/accounts/([0-9]+)/orders")
"""``POST /accounts/{account_id}/orders`` with an id of digits (any other goes to FastAPI)."""
_KEY = b"idempotency-key"
_MAX_BODY = 16_384
"""A longer body is no order this path takes: FastAPI reads and answers it."""


def problem(exc: TradingError) -> JSONResponse:
    """The body the app's ``TradingError`` handler answers with."""
    body: dict[str, Any] = {"error": exc.code, "detail": exc.message}
    if exc.rows:
        body["rows"] = exc.rows
    return JSONResponse(status_code=exc.status, content=body)


class PlaceOrders:
    """ASGI middleware: the route's well-formed requests answered here, everything else passed
    to ``app`` (FastAPI's routing), with the body this read replayed."""

    def __init__(self, app: ASGIApp, trading: Trading):
        self.app = app
        self.trading = trading

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = _PATH.fullmatch(scope["path"])
        if path is None:
            await self.app(scope, receive, send)
            return
        chunks = []
        size = 0
        more = True
        while more and size <= _MAX_BODY:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        order = None if more else self._parse(scope, raw)
        if order is None:
            await self.app(scope, _replay(raw, more, receive), send)
            return
        body, key = order
        try:
            made, created = await anyio.to_thread.run_sync(
                _routes.place, self.trading, int(path.group(1)), body, key
            )
        except TradingError as exc:
            await problem(exc)(scope, receive, send)
            return
        content = m.Order.model_validate(made).model_dump_json().encode()
        response = Response(content, 201 if created else 200, media_type="application/json")
        await response(scope, receive, send)

    def _parse(self, scope: Scope, raw: bytes) -> tuple[m.NewOrder, str | None] | None:
        """The body and the header as FastAPI would read them, or None: let FastAPI answer."""
        content_type = key = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value
            elif name == _KEY and key is None:
                key = value.decode("latin-1")
        if content_type != b"application/json" or (key is not None and len(key) > 64):
            return None
        try:
            return m.NewOrder.model_validate(json.loads(raw)), key
        except (ValueError, pydantic.ValidationError):
            return None


def _replay(raw: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` with what was read of the body given first."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": more}
        return await receive()  # the rest of a long body, then a disconnect

    return replay
