"""``warden.roles``: the declared roles as they are, and password rotation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pgwarden.engine import read_ledger
from pgwarden.errors import RolesError
from pgwarden.features._base import FeatureAPI
from pgwarden.roles._config import declared_roles
from pgwarden.roles._grants import PROFILES
from pgwarden.roles._password import password_statement
from pgwarden.roles._plan import WARDEN, role_ref
from pgwarden.roles._read import Reader


@dataclass(frozen=True)
class RoleState:
    """One declared role as the database has it."""

    slot: str
    name: str
    exists: bool
    created: bool
    """pgwarden created it (and drops it with the section); otherwise it is adopted."""
    attributes: list[str]
    privileges: dict[str, list[str]] = field(default_factory=dict)
    """By object (``schema app``, ``table app.items``): the privileges held, PUBLIC's aside."""

    def to_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "name": self.name,
            "exists": self.exists,
            "created": self.created,
            "attributes": self.attributes,
            "privileges": self.privileges,
        }


class RolesAPI(FeatureAPI):
    """``warden.roles``: show the declared roles; set a created role's password again."""

    attribute = "roles"

    def show(self) -> list[RoleState]:
        """Each declared role: whether it exists, who made it, its attributes and grants on
        the declared schemas and on pgwarden's schema."""
        section = declared_roles(self.warden.spec)
        schemas = list(section.schemas or sorted({n.schema for n in self.warden.spec.tables}))
        found = []
        with self.warden.connect(autocommit=True) as conn:
            reader = Reader(conn)
            owned = read_ledger(conn)
            for slot in PROFILES:
                spec = getattr(section, slot)
                if spec is None:
                    continue
                live = reader.roles.get(spec.name)
                privileges: dict[str, list[str]] = {}
                for schema in [*schemas, WARDEN] if live else []:
                    for what, name, held in reader.privileges(spec.name, schema):
                        where = (
                            f"schema {schema}"
                            if name is None
                            else f"{what.lower()} {schema}.{name}"
                        )
                        privileges[where] = held
                found.append(
                    RoleState(
                        slot=slot,
                        name=spec.name,
                        exists=live is not None,
                        created=role_ref(spec.name).key in owned,
                        attributes=sorted(live.attributes) if live else [],
                        privileges=privileges,
                    )
                )
        return found

    def set_password(self, slot: str) -> None:
        """Set the password of the declared ``slot`` role from its ``env:`` variable (a
        rotation); the clear text never leaves this process."""
        section = declared_roles(self.warden.spec)
        spec = getattr(section, slot, None) if slot in PROFILES else None
        key = f"roles.{slot}"
        if spec is None or spec.password is None:
            raise RolesError(
                "no such role with a password is declared",
                file=self.warden.spec.file,
                key=key,
            )
        with self.warden.connect(autocommit=True) as conn:
            conn.execute(
                password_statement(
                    conn, spec.name, spec.password, file=self.warden.spec.file, key=key
                )
            )
