"""The tables of docs/architecture.md marked *checked* are compared with the code, so that
adding a feature, a plug-in point or an error without saying so in the docs fails here."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

from pgwarden import errors
from pgwarden.features import registered_features

ROOT = Path(__file__).parent.parent
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def _table(heading: str) -> list[list[str]]:
    """The rows (cells, backticks stripped) of the first table after ``heading``."""
    after = ARCHITECTURE.split(heading, 1)[1]
    rows = []
    started = False
    for line in after.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= set("-: "):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header


def test_the_features_table_lists_every_registered_feature() -> None:
    rows = {r[0]: r for r in _table("### Registered features")}
    features = registered_features()
    assert set(rows) == set(features)
    for name, feature in features.items():
        assert rows[name][1] == feature.summary, name
        assert rows[name][2] == (", ".join(feature.requires) or "—"), name


def test_the_plug_in_points_table_lists_every_entry_point_group() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    rows = {r[0]: r for r in _table("### Plug-in points")}
    assert set(declared) <= set(rows), set(declared) - set(rows)
    for group, points in declared.items():
        for name in points:
            assert name in rows[group][2], f"{group}: {name} missing from the table"


def test_the_errors_table_lists_every_error_with_its_code() -> None:
    classes = {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.PgwardenError) and cls.__module__ == errors.__name__
    }
    rows = {r[0]: r for r in _table("### Errors")}
    assert set(rows) == set(classes)
    for name, cls in classes.items():
        assert rows[name][1] == cls.code, name
    assert set(errors.__all__) == set(classes), "every error class is exported"
    assert all(re.fullmatch(r"[a-z-]+", c.code) for c in classes.values())


def test_the_kinds_table_lists_every_kind_with_who_registers_it() -> None:
    from pgwarden.engine import KINDS

    found = {k.name: (k, "engine") for k in KINDS.values()}
    for name, feature in registered_features().items():
        for kind in feature.kinds():
            found[kind.name] = (kind, name)
    rows = {r[0]: r for r in _table("### Kinds (checked)")}
    assert set(rows) == set(found)
    for name, (kind, by) in found.items():
        assert rows[name][1:7] == [
            str(kind.rank),
            by,
            "yes" if kind.or_replace else "no",
            kind.drop_lock or "none",
            "yes" if kind.on_relation else "no",
            "yes" if kind.drops_last else "no",
        ], name
