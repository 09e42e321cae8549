"""Top-level sections of ``pgwarden.toml`` that modules and features own.

``[database]``, ``[server]``, ``[worker]`` and ``[tables."s.t"]`` belong to the core. Every other
top-level section (``[monitor]``, ``[serve]``, ``[backup]``, ``[roles]``, ``[tenancy]``, ...) is
owned by the module that reads it, which registers its pydantic model under the entry-point group
``pgwarden.sections`` (``monitor = "pgwarden.ops.monitor._config:MonitorSection"``), exactly as a
third-party package would. The file is validated against every registered model, with the same
errors (file, line, key, "did you mean") as the core sections.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from pydantic import BaseModel

SECTION_GROUP = "pgwarden.sections"
"""The entry-point group naming ``section = "module:Model"``."""


@cache
def section_models() -> dict[str, type[BaseModel]]:
    """Section name -> its options model, for every installed owner of a top-level section."""
    found: dict[str, type[BaseModel]] = {}
    for point in entry_points(group=SECTION_GROUP):
        model = point.load()
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(
                f"entry point {point.value!r} ({SECTION_GROUP}) is not a pydantic model"
            )
        found[point.name] = model
    return found
