"""The bearer token: ``Authorization: Bearer <token>`` on HTTP; on ``WS /live`` the same header,
or (browsers cannot set headers on a WebSocket) the subprotocol ``bearer.<base64url(token)>``
offered beside ``pgwarden.live``. Compared in constant time; never logged."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import HTTPException, Request, WebSocket

LIVE_PROTOCOL = "pgwarden.live"
_PREFIX = "bearer."


class TokenAuth:
    """Checks requests against ``token`` (``None``: everything is allowed)."""

    def __init__(self, token: str | None):
        self._token = token.encode() if token else None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def _matches(self, offered: str | bytes | None) -> bool:
        if self._token is None:
            return True
        if offered is None:
            return False
        raw = offered.encode() if isinstance(offered, str) else offered
        return hmac.compare_digest(raw, self._token)

    def require(self, request: Request) -> None:
        """A FastAPI dependency: 401 unless the request carries the token."""
        if self._token is None:
            return
        header = request.headers.get("authorization")
        if header is None:
            raise _unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not self._matches(value.strip()):
            raise _unauthorized("the bearer token is not valid")

    def websocket_allowed(self, websocket: WebSocket) -> bool:
        if self._token is None:
            return True
        header = websocket.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self._matches(value.strip()):
            return True
        for protocol in websocket.scope.get("subprotocols", []):
            if protocol.startswith(_PREFIX) and self._matches(_decode(protocol[len(_PREFIX) :])):
                return True
        return False


def _decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={"error": "unauthorized", "detail": detail},
        headers={"WWW-Authenticate": 'Bearer realm="pgwarden"'},
    )
