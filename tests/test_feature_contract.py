"""The feature contract, for every registered feature: apply → empty plan → drift of each
kind of owned object shown and repaired → removal gives the schema back exactly.

A feature opts in with a :class:`~pgwarden.testing.ContractCase`; a registered feature without
one fails ``test_every_registered_feature_opts_in``.
"""

from __future__ import annotations

import uuid

import pytest

from pgwarden.features import registered_features
from pgwarden.testing import ContractCase, check_feature_contract

_TABLES = """
create table parent (id int primary key, name text not null);
create table items (
    id int primary key, parent_id int references parent on delete cascade,
    name text, at timestamptz not null default now());
insert into parent values (1, 'one'), (2, 'two');
insert into items select g, 1 + g % 2, 'item ' || g, now() - g * interval '1 day'
  from generate_series(1, 20) g;
"""

# Roles are cluster-wide (shared by every test database of a server): names of this run only.
_RUN = uuid.uuid4().hex[:8]

CASES = {
    case.feature: case
    for case in (
        ContractCase("timestamps", _TABLES, '[tables."public.items"]\ntimestamps = true\n'),
        ContractCase(
            "audit",
            _TABLES,
            '[tables."public.items"]\naudit = true\n[tables."public.parent"]\naudit = true\n',
        ),
        ContractCase(
            "versioning", _TABLES, '[tables."public.items"]\naudit = true\nversioning = true\n'
        ),
        ContractCase(
            "soft_delete",
            _TABLES,
            '[tables."public.parent"]\nsoft_delete = true\n'
            '[tables."public.items"]\nsoft_delete = true\n',
        ),
        ContractCase(
            "archive",
            _TABLES,
            '[tables."public.items"]\narchive = { after = "30 days", column = "at" }\n',
        ),
        ContractCase(
            "checks",
            _TABLES,
            '[tables."public.items".checks]\nnamed = "name is not null"\n'
            "recent = { check = \"at > now() - interval '100 years'\", not_valid = true }\n",
        ),
        ContractCase(
            "partition",
            """create table events (id bigint, at timestamptz not null) partition by range (at);
               create table events_2026 partition of events
                   for values from ('2026-01-01') to ('2027-01-01');""",
            '[tables."public.events"]\npartition = { column = "at", interval = "1 year" }\n',
        ),
        ContractCase(
            "materialized_views",
            _TABLES,
            '[materialized_views."public.item_counts"]\n'
            'query = "select parent_id, count(*) as n from items group by parent_id"\n'
            'unique_key = ["parent_id"]\nindexes = [["n"]]\nrefresh = "1 hour"\n',
        ),
        ContractCase(
            "tenancy",
            """create table docs (id int primary key, org_id bigint, item int);
               create table grants (item int, viewer bigint, w boolean);""",
            '[tables."public.docs"]\ntenancy = { column = "org_id", grant = { table = '
            '"public.grants", on = "item", grantee = "viewer", write = "w" } }\n',
        ),
        ContractCase(
            "search",
            _TABLES,
            '[tables."public.items"]\nsearch = { columns = { name = "A" }, fuzzy = ["name"] }\n',
        ),
        ContractCase(
            "hierarchy",
            """create table nodes (id int primary key, name text,
                   parent_id int references nodes on delete cascade);
               insert into nodes values (1, 'root', null), (2, 'a', 1), (3, 'b', 2), (4, 'c', 1);""",
            '[tables."public.nodes"]\nhierarchy = { max_depth = 4 }\n',
        ),
        ContractCase(
            "graph",
            _TABLES
            + """create table links (id int primary key, kind text,
                     source_id int references parent, target_id int references parent);
                 insert into links values (1, 'x', 1, 2);""",
            '[tables."public.links"]\ngraph = { per = "kind" }\n',
        ),
        ContractCase(
            "roles",
            _TABLES,
            f'[roles]\nschemas = ["public"]\nowner = "contract_owner_{_RUN}"\n'
            f'app = "contract_app_{_RUN}"\nreadonly = "contract_ro_{_RUN}"\n',
        ),
    )
}


def test_every_registered_feature_opts_in() -> None:
    missing = sorted(set(registered_features()) - set(CASES))
    assert not missing, f"features without a contract case: {missing}"


@pytest.mark.parametrize("feature", sorted(CASES))
def test_feature_keeps_the_contract(feature: str, db_url: str) -> None:
    check_feature_contract(db_url, CASES[feature])
