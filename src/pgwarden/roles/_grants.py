"""What each declared role is, and what it may do: the single source of the privileges."""

from __future__ import annotations

from dataclasses import dataclass

SLOTS = ("owner", "app", "readonly", "admin")


@dataclass(frozen=True)
class Profile:
    """A slot's attributes when pgwarden creates the role, and its privileges."""

    inherit: bool
    login: bool
    bypassrls: bool
    tables: tuple[str, ...] = ()
    """On every table and view of the declared schemas."""
    sequences: tuple[str, ...] = ()
    warden_functions: frozenset[str] = frozenset()
    """pgwarden's functions it may run (by name; every overload), besides the readers'."""
    warden_relations: dict[str, tuple[str, ...]] | None = None
    """pgwarden's tables it may read besides the readers', by the stream that makes them."""


# History and time travel: read only, and none writes (reverts, purges, hard deletes are not
# among them). Tables they read as their caller.
READER_FUNCTIONS = frozenset(
    {
        "as_of", "audit_as_of_sql", "audit_current_row", "audit_generated",
        "audit_generated_sql", "audit_facts", "audit_facts_all", "audit_first_after",
        "audit_first_after_at", "audit_first_after_sql", "audit_hidden_names", "audit_key",
        "audit_key_match_sql", "audit_key_names", "audit_key_sql", "audit_key_where",
        "audit_live_key", "audit_moves", "audit_rename_image", "audit_rename_spans",
        "audit_rename_sql", "audit_renamed_after", "audit_state_at", "audit_table_id",
        "history", "row_as_of", "versions",
    }
)  # fmt: skip
READER_RELATIONS = {
    "audit": (
        "audit_columns", "audit_contexts", "audit_events", "audit_events_all",
        "audit_events_archive", "audit_facts_all", "audit_tables",
    ),
}  # fmt: skip
"""pgwarden's tables and views that history reads, by the stream that makes them."""

# The admin role may also revert, restore, purge, erase and read the change feed
# (revert_transaction calls audit_fk_refs and audit_referenced as its caller; the feed's
# horizon reads the running transactions and the WAL ingester's progress).
ADMIN_FUNCTIONS = frozenset(
    {
        "allow_hard_delete", "audit_erase", "audit_fk_refs", "audit_referenced",
        "audit_slot_name", "changes_after", "feed_horizon", "put_row", "revert_transaction",
        "running_horizon",
    }
)  # fmt: skip
ADMIN_RELATIONS: dict[str, tuple[str, ...]] = {"audit": ("audit_wal", "audit_erasures")}
"""pgwarden's tables the admin reads besides the readers' ones, by the stream that makes them."""

PROFILES = {
    "owner": Profile(inherit=True, login=False, bypassrls=False),
    "app": Profile(
        inherit=False,
        login=True,
        bypassrls=False,
        tables=("SELECT", "INSERT", "UPDATE", "DELETE"),
        sequences=("SELECT", "USAGE"),
    ),
    "readonly": Profile(
        inherit=False, login=False, bypassrls=False, tables=("SELECT",), sequences=("SELECT",)
    ),
    "admin": Profile(
        inherit=True,
        login=True,
        # psql users with the admin role work without the tenancy context.
        bypassrls=True,
        tables=("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"),
        sequences=("SELECT", "UPDATE", "USAGE"),
        warden_functions=ADMIN_FUNCTIONS,
        warden_relations=ADMIN_RELATIONS,
    ),
}


def attributes(slot: str, login: bool | None) -> list[str]:
    """The attributes pgwarden gives a role it creates for ``slot``."""
    p = PROFILES[slot]
    can_login = p.login if login is None else login
    return [
        "NOSUPERUSER",
        "NOCREATEDB",
        "NOCREATEROLE",
        "INHERIT" if p.inherit else "NOINHERIT",
        "LOGIN" if can_login else "NOLOGIN",
        "NOREPLICATION",
        "BYPASSRLS" if p.bypassrls else "NOBYPASSRLS",
    ]
