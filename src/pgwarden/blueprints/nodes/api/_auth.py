"""Who is calling: a bearer token ``<user uuid>.<hex HMAC-SHA256(key, "nodes-api:" + uuid)>``.

The seed's policies trust Supabase's ``auth.uid()`` (a verified JWT). Here the API verifies
the token and hands the user id to the services, which sign it as pgwarden's tenant for
each transaction: the policies then compare ``owner_id`` with ``warden.tenant()``. The token
key is the tenancy key (``Warden.tenant_key``) unless ``$NODES_TOKEN_KEY`` names another;
``pgwarden nodes token USER`` issues one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

from pgwarden.blueprints.nodes.services import NodesError

_PURPOSE = b"nodes-api:"


class Unauthorized(NodesError):
    status = 401
    code = "unauthorized"


def token_key(tenant_key: bytes | None) -> bytes:
    """The key tokens are signed with."""
    explicit = os.environ.get("NODES_TOKEN_KEY")
    if explicit:
        return explicit.encode()
    if not tenant_key:
        raise RuntimeError("no token key: set NODES_TOKEN_KEY or install the blueprint")
    return tenant_key


def issue(key: bytes, user: uuid.UUID) -> str:
    """A bearer token for ``user``."""
    mac = hmac.new(key, _PURPOSE + str(user).encode(), hashlib.sha256).hexdigest()
    return f"{user}.{mac}"


def verify(key: bytes, header: str | None) -> uuid.UUID:
    """The user an ``Authorization: Bearer ...`` header names, if its MAC holds."""
    scheme, _, token = (header or "").partition(" ")
    user, _, _mac = token.partition(".")
    if scheme.lower() != "bearer" or not user:
        raise Unauthorized("send Authorization: Bearer <token> (pgwarden nodes token USER)")
    try:
        who = uuid.UUID(user)
    except ValueError:
        raise Unauthorized("the token's user is not a uuid") from None
    if not hmac.compare_digest(issue(key, who), token):
        raise Unauthorized("the token's signature does not hold")
    return who
