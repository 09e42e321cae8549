"""The object kinds ``[roles]`` adds to the engine: what each is, and how its live state reads.

Every fingerprint is a canonical text of the state pgwarden set, so that a grant revoked or
widened by hand, an attribute changed, an object given away shows as drift in ``plan``. Grants
on the declared schemas read as the *distinct* privilege sets a role holds over their
relations (partitions aside: access through the parent is what counts): a table made later
with the default privileges in place changes nothing, one made without them (or a hand-made
exception on one table) shows.
"""

from __future__ import annotations

from pgwarden.engine import Kind
from pgwarden.roles._settings import ROLE_SETTING

ROLE = Kind(
    "role",
    2,
    """select concat_ws(' ',
              case when rolsuper then 'SUPERUSER' else 'NOSUPERUSER' end,
              case when rolcreatedb then 'CREATEDB' else 'NOCREATEDB' end,
              case when rolcreaterole then 'CREATEROLE' else 'NOCREATEROLE' end,
              case when rolinherit then 'INHERIT' else 'NOINHERIT' end,
              case when rolcanlogin then 'LOGIN' else 'NOLOGIN' end,
              case when rolreplication then 'REPLICATION' else 'NOREPLICATION' end,
              case when rolbypassrls then 'BYPASSRLS' else 'NOBYPASSRLS' end)
       from pg_roles where rolname = %(name)s""",
    drop_lock=None,
)

# What a role may do on one declared schema: usage of the schema, and its privileges over the
# schema's tables (views included) and sequences.
GRANTS = Kind(
    "grants",
    90,
    """select coalesce((select string_agg(a.privilege_type, ',' order by a.privilege_type)
                          from aclexplode(n.nspacl) a where a.grantee = r.oid), '')
              || ' tables: ' || coalesce((
                  select string_agg(distinct x.privs, ' | ' order by x.privs) from (
                      select c.relkind = 'S' as seq, coalesce((
                          select string_agg(a.privilege_type, ',' order by a.privilege_type)
                            from aclexplode(c.relacl) a where a.grantee = r.oid), '-')
                          || case when c.relkind = 'S' then ' (sequences)' else '' end as privs
                        from pg_class c
                       where c.relnamespace = n.oid and not c.relispartition
                         and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')) x), 'none')
       from pg_namespace n, pg_roles r
      where n.nspname = %(schema)s and r.rolname = %(name)s""",
    or_replace=True,  # its statements revoke, then grant: they set the state from any state
    drop_lock=None,
)

# ALTER DEFAULT PRIVILEGES FOR ROLE <creator> IN SCHEMA <schema> ... TO <grantee>: the ref's
# relation is (schema, creator), its name the grantee.
DEFAULT_PRIVILEGES = Kind(
    "default_privileges",
    4,
    """select string_agg(d.defaclobjtype::text || ':' || a.privilege_type, ','
                         order by d.defaclobjtype, a.privilege_type)
         from pg_default_acl d
         join pg_namespace n on n.oid = d.defaclnamespace
         join pg_roles c on c.oid = d.defaclrole
         cross join lateral aclexplode(d.defaclacl) a
         join pg_roles g on g.oid = a.grantee
        where n.nspname = %(rel_schema)s and c.rolname = %(rel_name)s
          and g.rolname = %(name)s""",
    or_replace=True,
    drop_lock=None,
    on_relation=True,
)

# What a role may read and run in pgwarden's own schema: the objects it holds explicit
# privileges on there.
WARDEN_GRANTS = Kind(
    "warden_grants",
    91,
    """select coalesce((select string_agg(a.privilege_type, ',' order by a.privilege_type)
                          from aclexplode(n.nspacl) a where a.grantee = r.oid), '')
              || ' ' || coalesce((
                  select string_agg(o.name || ':' || o.privs, ',' order by o.name) from (
                      select c.relname::text as name, (
                          select string_agg(a.privilege_type, '+' order by a.privilege_type)
                            from aclexplode(c.relacl) a where a.grantee = r.oid) as privs
                        from pg_class c where c.relnamespace = n.oid
                      union all
                      select p.oid::regprocedure::text, (
                          select string_agg(a.privilege_type, '+' order by a.privilege_type)
                            from aclexplode(p.proacl) a where a.grantee = r.oid)
                        from pg_proc p where p.pronamespace = n.oid) o
                   where o.privs is not null), '')
       from pg_namespace n, pg_roles r
      where n.nspname = %(schema)s and r.rolname = %(name)s""",
    or_replace=True,
    drop_lock=None,
)

# The owner role owns a declared schema and what is in it (pgwarden's own relations there and
# extensions' members aside): what else is in it, and owned by another role, reads as drift.
OWNERSHIP = Kind(
    "ownership",
    95,
    """select case when n.nspowner <> r.oid then null else coalesce((
              select string_agg(o.name || ' owned by ' || pg_get_userbyid(o.owner), ', '
                                order by o.name)
                from warden.roles_foreign_objects(n.nspname::text, r.rolname::text) o), 'all') end
       from pg_namespace n, pg_roles r
      where n.nspname = %(schema)s and r.rolname = %(name)s""",
    or_replace=True,
    drop_lock=None,
    needs="warden.roles_foreign_objects(text,text)",
)

KINDS = [ROLE, ROLE_SETTING, GRANTS, DEFAULT_PRIVILEGES, WARDEN_GRANTS, OWNERSHIP]
