"""``[roles]`` as owned objects: the roles pgwarden creates, the owner's schemas, and each
role's grants, default privileges and access to pgwarden's own schema.

Roles that exist already are adopted: checked, never altered, never dropped. Everything else
is an object of the engine's ledger, so ``plan`` shows it, drift shows, and removing the
section removes exactly it. A grant's removal restores what the role held before pgwarden
granted (recorded at its first plan, and kept from then on).
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.engine import DesiredObject, Lock, ObjectRef, stored_sql
from pgwarden.errors import RolesError
from pgwarden.features._base import PlanContext
from pgwarden.roles._config import RoleSpec, RolesSection
from pgwarden.roles._grants import PROFILES, READER_FUNCTIONS, READER_RELATIONS, attributes
from pgwarden.roles._password import password_setter, variable
from pgwarden.roles._read import Reader
from pgwarden.roles._settings import settings_objects

FEATURE = "roles"
WARDEN = "warden"
_RESERVED = {"warden", "warden_wal", "information_schema", "pg_catalog"}


def role_ref(name: str) -> ObjectRef:
    return ObjectRef("role", "", name)


def declared_schemas(section: RolesSection, ctx: PlanContext, reader: Reader) -> list[str]:
    """The schemas the roles are granted on, each checked to exist."""
    file = ctx.spec.file
    schemas = (
        list(section.schemas)
        if section.schemas is not None
        else sorted({t.name.schema for t in ctx.spec.tables.values()})
    )
    if not schemas:
        raise RolesError(
            'no schema to grant on: name them (schemas = ["app"]) or declare tables',
            file=file,
            key="roles.schemas",
        )
    for schema in schemas:
        if schema in _RESERVED or schema.startswith("pg_"):
            raise RolesError(
                f"{schema} is a system or pgwarden schema; pgwarden grants on its own schema "
                "itself",
                file=file,
                key="roles.schemas",
            )
        if schema not in reader.schemas:
            near = sorted(reader.schemas - _RESERVED)
            raise RolesError(
                f"schema {schema} does not exist in database {ctx.catalog.server.database!r}",
                file=file,
                key="roles.schemas",
                suggestion=_closest(schema, near),
            )
    return schemas


def _closest(name: str, names: list[str]) -> str | None:
    from pgwarden._names import closest

    return closest(name, names)


def role_problems(
    declared: dict[str, RoleSpec],
    schemas: list[str],
    reader: Reader,
    *,
    created: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """(slot, why) for each app or read-only role that would defeat least privilege:
    SUPERUSER or BYPASSRLS (unless pgwarden ``created`` it: its plan puts the attributes
    back), owning objects of the schemas, or able to SET ROLE to a privileged role."""
    found = []
    owner = declared.get("owner")
    for slot in ("app", "readonly"):
        spec = declared.get(slot)
        live = reader.roles.get(spec.name) if spec else None
        if spec is None or live is None:
            continue
        if spec.name not in created:
            for attribute in ("SUPERUSER", "BYPASSRLS"):
                if live.has(attribute):
                    found.append(
                        (
                            slot,
                            f"role {spec.name} exists with {attribute}: the {slot} role must "
                            "not bypass row-level security or privileges",
                        )
                    )
        owned = reader.owned_in(spec.name, schemas)
        if owned:
            found.append(
                (
                    slot,
                    f"role {spec.name} owns {', '.join(owned[:3])}"
                    + (f" and {len(owned) - 3} more" if len(owned) > 3 else "")
                    + f": the {slot} role must own nothing (an owner bypasses grants and, "
                    "without FORCE, row-level security)",
                )
            )
        risky = sorted(
            r
            for r in reader.member_of(spec.name)
            if (owner is not None and r == owner.name)
            or (r in reader.roles and reader.roles[r].has("SUPERUSER"))
            or (r in reader.roles and reader.roles[r].has("BYPASSRLS"))
        )
        if risky:
            found.append(
                (
                    slot,
                    f"role {spec.name} is a member of {', '.join(risky)}: it could SET ROLE "
                    f"to it, so the {slot} role would not be least privileged",
                )
            )
    return found


def check_roles(
    declared: dict[str, RoleSpec], schemas: list[str], ctx: PlanContext, reader: Reader
) -> None:
    """Refuse, before anything runs, roles that would defeat least privilege."""
    created = frozenset(s.name for s in declared.values() if ctx.owns(role_ref(s.name)))
    for slot, why in role_problems(declared, schemas, reader, created=created)[:1]:
        raise RolesError(why, file=ctx.spec.file, key=f"roles.{slot}")


def roles_objects(section: RolesSection, ctx: PlanContext, reader: Reader) -> list[DesiredObject]:
    """Every object ``[roles]`` wants, in no particular order (kinds rank them)."""
    declared = {s: r for s in PROFILES if (r := getattr(section, s)) is not None}
    schemas = declared_schemas(section, ctx, reader)
    check_roles(declared, schemas, ctx, reader)
    found: list[DesiredObject] = []
    for slot, spec in declared.items():
        role = _role(slot, spec, ctx, reader)
        if role is not None:
            found.append(role)
        found.extend(settings_objects(slot, spec, ctx, reader))
    owner = declared.get("owner")
    creators = list(dict.fromkeys([*([owner.name] if owner else []), reader.current_user]))
    for schema in schemas:
        if owner is not None:
            found.append(_ownership(schema, owner.name))
    for slot, spec in declared.items():
        if slot == "owner":
            continue
        for schema in schemas:
            found.append(_grants(slot, spec.name, schema, ctx, reader))
            for creator in creators:
                if creator != spec.name:
                    found.append(_default_privileges(slot, spec.name, schema, creator))
        found.append(_warden_grants(slot, spec.name, ctx, reader))
    return found


def _role(slot: str, spec: RoleSpec, ctx: PlanContext, reader: Reader) -> DesiredObject | None:
    ref = role_ref(spec.name)
    if spec.name in reader.roles and not ctx.owns(ref):
        return None  # adopted: the user's role, checked, never altered or dropped
    words = sql.SQL(" ".join(attributes(slot, spec.login)))
    name = sql.Identifier(spec.name)
    password = ""
    if spec.password is not None:
        password = f"; password from ${variable(spec.password)}, set at apply time, never shown"
    return DesiredObject(
        ref=ref,
        feature=FEATURE,
        table=None,
        create=sql.SQL("CREATE ROLE {} WITH {}").format(name, words),
        alter=sql.SQL("ALTER ROLE {} WITH {}").format(name, words),
        drop=sql.SQL("DROP ROLE IF EXISTS {}").format(name),
        description=f"role {spec.name} ({slot}){password}",
        secret=(
            password_setter(spec.name, spec.password, file=ctx.spec.file, key=f"roles.{slot}")
            if spec.password is not None
            else None
        ),
    )


def _ownership(schema: str, owner: str) -> DesiredObject:
    args = sql.SQL("{}, {}").format(sql.Literal(schema), sql.Literal(owner))
    return DesiredObject(
        ref=ObjectRef("ownership", schema, owner),
        feature=FEATURE,
        table=None,
        create=sql.SQL("SELECT warden.roles_take_ownership({})").format(args),
        drop=sql.SQL("SELECT warden.roles_give_back_ownership({})").format(args),
        description=f"{owner} owns schema {schema} and its tables, views, sequences and "
        "routines (each previous owner recorded, to give it back)",
        # ALTER ... OWNER takes each relation it moves, one after the other.
        lock=Lock("ACCESS EXCLUSIVE", QualifiedName(schema, "*")),
    )


def _privileges(words: Iterable[str]) -> sql.SQL:
    return sql.SQL(", ".join(words))  # our fixed words (Profile), never the user's


def _grants(slot: str, role: str, schema: str, ctx: PlanContext, reader: Reader) -> DesiredObject:
    ref = ObjectRef("grants", schema, role)
    profile = PROFILES[slot]
    s, r = sql.Identifier(schema), sql.Identifier(role)
    revoke = [
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(s, r),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, r),
    ]
    grant = [sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r)]
    for privileges, what in ((profile.tables, "TABLES"), (profile.sequences, "SEQUENCES")):
        if privileges:
            grant.append(
                sql.SQL("GRANT {} ON ALL {} IN SCHEMA {} TO {}").format(
                    _privileges(privileges), sql.SQL(what), s, r
                )
            )
    recorded = reader.recorded_drops.get(ref.key)
    if recorded is not None:
        drop: sql.SQL | sql.Composed = stored_sql(recorded)
    else:
        before = [
            sql.SQL("GRANT {} ON {} {} TO {}").format(
                _privileges(privileges),
                sql.SQL(what),
                s if name is None else sql.Identifier(schema, name),
                r,
            )
            for what, name, privileges in (
                reader.privileges(role, schema) if role in reader.roles else []
            )
        ]
        drop = sql.SQL(";\n").join([*revoke, *before])
    return DesiredObject(
        ref=ref,
        feature=FEATURE,
        table=None,
        create=sql.SQL(";\n").join([*revoke, *grant]),
        drop=drop,
        description=f"privileges of {role} ({slot}) on schema {schema}: usage; "
        + ", ".join(profile.tables)
        + " on its tables",
    )


def _default_privileges(slot: str, role: str, schema: str, creator: str) -> DesiredObject:
    profile = PROFILES[slot]
    head = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(
        sql.Identifier(creator), sql.Identifier(schema)
    )
    r = sql.Identifier(role)
    revoke = [
        sql.SQL("{} REVOKE ALL ON TABLES FROM {}").format(head, r),
        sql.SQL("{} REVOKE ALL ON SEQUENCES FROM {}").format(head, r),
    ]
    grant = [
        sql.SQL("{} GRANT {} ON {} TO {}").format(head, _privileges(p), sql.SQL(what), r)
        for p, what in ((profile.tables, "TABLES"), (profile.sequences, "SEQUENCES"))
        if p
    ]
    return DesiredObject(
        ref=ObjectRef("default_privileges", schema, role, QualifiedName(schema, creator)),
        feature=FEATURE,
        table=None,
        create=sql.SQL(";\n").join([*revoke, *grant]),
        drop=sql.SQL(";\n").join(revoke),
        description=f"default privileges of {role} ({slot}) on what {creator} creates in "
        f"schema {schema}",
    )


def _warden_grants(slot: str, role: str, ctx: PlanContext, reader: Reader) -> DesiredObject:
    """Usage of pgwarden's schema, and the history reads (plus, for admin, the operator
    functions): pgwarden's own objects in use, by name."""
    used = _streams_in_use(ctx, reader)
    wanted = READER_FUNCTIONS | PROFILES[slot].warden_functions
    functions = sorted(
        {
            obj.ref
            for name in sorted(used)
            if (stream := ctx.features[name].stream()) is not None
            for obj in stream.objects()
            if obj.ref.kind == "function" and obj.ref.name in wanted
        }
    )
    more = PROFILES[slot].warden_relations or {}
    relations = sorted(
        {rel for name in used for rel in (*READER_RELATIONS.get(name, ()), *more.get(name, ()))}
    )
    w, r = sql.Identifier(WARDEN), sql.Identifier(role)
    revoke = [
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(w, r),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(w, r),
        sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {} FROM {}").format(w, r),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(w, r),
    ]
    grant = [sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(w, r)]
    if relations:
        grant.append(
            sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(WARDEN, n) for n in relations), r
            )
        )
    if functions:
        grant.append(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                sql.SQL(", ").join(
                    # The argument types come from pgwarden's own .sql files, not the user.
                    sql.SQL("{}({})").format(sql.Identifier(f.schema, f.name), sql.SQL(f.args))
                    for f in functions
                ),
                r,
            )
        )
    return DesiredObject(
        ref=ObjectRef("warden_grants", WARDEN, role),
        feature=FEATURE,
        table=None,
        create=sql.SQL(";\n").join([*revoke, *grant]),
        drop=sql.SQL(";\n").join(revoke),
        description=f"what {role} ({slot}) may read and run in pgwarden's schema: history "
        + ("and time travel" if slot != "admin" else "reads, reverts, restores, hard deletes"),
    )


def _streams_in_use(ctx: PlanContext, reader: Reader) -> set[str]:
    """Features whose stream this plan brings up or the database holds (their functions and
    tables exist once this plan has run)."""
    declared = {n for t in ctx.spec.tables.values() for n in t.features}
    found = set()
    for name, feature in ctx.features.items():
        stream = feature.stream()
        if stream is not None and (name in declared or stream.name in reader.streams):
            found.add(name)
    return found
