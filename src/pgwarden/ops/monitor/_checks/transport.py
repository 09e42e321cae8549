"""Security on the wire: a server reachable from other machines without TLS, sessions from
other machines in clear, pg_hba.conf lines that let clients in without a password or make
them send it in clear."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._engine import CannotCheck, Ctx, check
from pgwarden.ops.monitor._model import Finding, Severity

_LOCAL = frozenset({"", "localhost", "127.0.0.1", "::1"})
# An address (pg_hba_file_rules.address or client_addr) on this machine's loopback.
_LOOPBACK_SQL = "({0} in ('localhost', 'samehost') or {0} like '127.%%' or {0} = '::1')"


@check(
    "security.tls_off",
    "A server listening beyond this machine with TLS off, or allowing old TLS",
    "ssl, listen_addresses, ssl_min_protocol_version",
)
def _tls_off(ctx: Ctx) -> Iterator[Finding]:
    listen = ctx.setting("listen_addresses")
    addresses = {a.strip() for a in listen.split(",")}
    if ctx.setting("ssl") == "off":
        if addresses <= _LOCAL:
            return  # reachable only from this machine (and its unix socket)
        yield Finding(
            "security.tls_off",
            Severity.WARNING,
            "setting ssl",
            {},
            f"the server listens on {listen} with ssl = off: passwords and rows cross the "
            "network in clear; set ssl = on with a certificate (ssl_cert_file, ssl_key_file) "
            "and use hostssl lines in pg_hba.conf",
        )
        return
    oldest = ctx.setting("ssl_min_protocol_version")
    if oldest in ("TLSv1", "TLSv1.1"):
        yield Finding(
            "security.tls_off",
            Severity.WARNING,
            "setting ssl_min_protocol_version",
            {},
            f"clients may still negotiate {oldest}, which is broken: set "
            "ssl_min_protocol_version = 'TLSv1.2' (the default since PostgreSQL 14)",
        )


@check(
    "security.plaintext_sessions",
    "Sessions from other machines without TLS",
    "pg_stat_activity.client_addr, pg_stat_ssl",
)
def _plaintext(ctx: Ctx) -> Iterator[Finding]:
    if not ctx.monitor_role:
        ctx.note(
            "security.plaintext_sessions",
            "only this role's own sessions show their address (pg_monitor sees every one)",
        )
    rows = ctx.rows(
        f"""
        select a.usename as role, host(a.client_addr) as address, count(*) as sessions
          from pg_stat_activity a join pg_stat_ssl s on s.pid = a.pid
         where not s.ssl and a.client_addr is not null
           and not {_LOOPBACK_SQL.format("host(a.client_addr)")}
         group by 1, 2 order by 1, 2
        """
    )
    for r in rows:
        yield Finding(
            "security.plaintext_sessions",
            Severity.WARNING,
            f"role {r['role']} from {r['address']}",
            {"sessions": r["sessions"]},
            "these sessions cross the network in clear: connect with sslmode=verify-full "
            "(or require), and make the matching pg_hba.conf lines hostssl",
        )


@check(
    "security.hba_trust",
    "pg_hba.conf lines letting clients from other machines in without a password, or "
    "making them send it in clear",
    "pg_hba_file_rules (superuser)",
)
def _hba(ctx: Ctx) -> Iterator[Finding]:
    if not ctx.superuser:
        raise CannotCheck("reading pg_hba.conf (pg_hba_file_rules) needs a superuser")
    address = _LOOPBACK_SQL.format("coalesce(r.address, '')")
    rows = ctx.rows(
        f"""
        select r.line_number as line, r.type, r.auth_method as method,
               array_to_string(r.database, ',') as databases,
               array_to_string(r.user_name, ',') as users,
               coalesce(r.address, '') || coalesce('/' || r.netmask, '') as address
          from pg_hba_file_rules r
         where r.error is null and r.type <> 'local' and not {address}
           and (r.auth_method = 'trust'
                or r.auth_method = 'password' and r.type <> 'hostssl')
         order by r.line_number
        """
    )
    for r in rows:
        if r["method"] == "trust":
            why = (
                f"anyone who reaches the server from {r['address'] or 'any address'} logs in "
                "as any of those roles with no password: use scram-sha-256 (or cert)"
            )
        else:
            why = (
                "password sends the password in clear on a line that allows non-TLS "
                "connections: use scram-sha-256, or make the line hostssl"
            )
        yield Finding(
            "security.hba_trust",
            Severity.WARNING if r["method"] == "password" else Severity.CRITICAL,
            f"pg_hba.conf line {r['line']}",
            {},
            why,
            detail=" ".join(
                v for v in (r["type"], r["databases"], r["users"], r["address"], r["method"]) if v
            ),
        )
