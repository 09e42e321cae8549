"""Features: one folder (or package) per capability, found through entry points.

Every feature, pgwarden's own included, registers under the entry-point group
``pgwarden.features`` (``audit = "pgwarden.features.audit:Audit"``), exactly as a feature
shipped in a separate package would. :func:`registered_features` loads them. See
``docs/architecture.md`` for the contract and a worked example of a third-party feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points

from pgwarden._names import QualifiedName, owned_name
from pgwarden.errors import FeatureDependencyError
from pgwarden.features._base import (
    Feature,
    FeatureAPI,
    PlanContext,
    function_body,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.spec import FeatureOptions, Spec

FEATURE_GROUP = "pgwarden.features"
"""The entry-point group naming ``feature = "module:FeatureClass"``."""


@cache
def _registered() -> tuple[tuple[str, Feature], ...]:
    found: list[tuple[str, Feature]] = []
    for point in sorted(entry_points(group=FEATURE_GROUP), key=lambda p: p.name):
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, Feature)):
            raise TypeError(f"{point.value!r} ({FEATURE_GROUP}) is not a Feature subclass")
        feature = cls()
        if feature.name != point.name:
            raise TypeError(f"{point.value!r} is registered as {point.name!r}: names must match")
        found.append((point.name, feature))
    return tuple(found)


def registered_features() -> dict[str, Feature]:
    """Every installed feature, by the key users write in ``pgwarden.toml``, in the order
    their dependencies require (a feature comes after those it ``requires``)."""
    features = dict(_registered())
    return {name: features[name] for name in dependency_order(features)}


def dependency_order(features: Mapping[str, Feature]) -> list[str]:
    """Feature names, each after the features it requires (ties by name)."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in visiting:
            raise FeatureDependencyError(
                f"features require each other in a cycle: {' -> '.join((*path, name))}"
            )
        visiting.add(name)
        for need in sorted(features[name].requires):
            if need not in features:
                raise FeatureDependencyError(
                    f"feature {name!r} requires {need!r}, which is not installed"
                )
            visit(need, (*path, name))
        visiting.discard(name)
        done.append(name)

    for name in sorted(features):
        visit(name, ())
    return done


def check_dependencies(spec: Spec, features: Mapping[str, Feature]) -> None:
    """Refuse a declaration where a table has a feature without the features it requires."""
    for table in spec.tables.values():
        for name in table.features:
            missing = [n for n in features[name].requires if n not in table.features]
            if missing:
                needs = " and ".join(f"{n} = true" for n in missing)
                raise FeatureDependencyError(
                    f"[tables.{table.key}] {name} requires {', '.join(missing)} on the same "
                    f"table; declare {needs} there too",
                    file=spec.file,
                    table=table.key,
                    key=name,
                    line=table.line,
                )


def option_models() -> dict[str, type[FeatureOptions]]:
    """Feature name -> options model, for validating the file."""
    return {name: feature.options for name, feature in registered_features().items()}


__all__ = [
    "FEATURE_GROUP",
    "Feature",
    "FeatureAPI",
    "PlanContext",
    "QualifiedName",
    "check_dependencies",
    "dependency_order",
    "function_body",
    "option_models",
    "owned_name",
    "registered_features",
    "sql_template",
    "trigger",
    "trigger_function",
]
