"""One module per capability. Each turns (table declaration, table state) into owned objects.

To add a feature: subclass :class:`Feature` in its own module, keep its PL/pgSQL beside it as
``.sql`` files, and list it in :data:`REGISTRY`. See ``docs/architecture.md``.
"""

from __future__ import annotations

from pgwarden.features._base import (
    Feature,
    PlanContext,
    function_body,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.features.archive import Archive
from pgwarden.features.audit import Audit
from pgwarden.features.partition import Partition
from pgwarden.features.soft_delete import SoftDelete
from pgwarden.features.timestamps import Timestamps
from pgwarden.features.versioning import Versioning
from pgwarden.spec import FeatureOptions

REGISTRY: dict[str, Feature] = {
    feature.name: feature
    for feature in (Timestamps(), Audit(), Versioning(), SoftDelete(), Archive(), Partition())
}
"""Every feature pgwarden has, by the key users write in ``pgwarden.toml``."""


def option_models() -> dict[str, type[FeatureOptions]]:
    """Feature name -> options model, for validating the file."""
    return {name: feature.options for name, feature in REGISTRY.items()}


__all__ = [
    "REGISTRY",
    "Feature",
    "PlanContext",
    "function_body",
    "option_models",
    "sql_template",
    "trigger",
    "trigger_function",
]
