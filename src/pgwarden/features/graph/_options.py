"""Options of the ``graph`` feature, as written in ``pgwarden.toml``."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pgwarden.spec import FeatureOptions


class GraphOptions(FeatureOptions):
    """``graph = { source = "from_id", target = "to_id", acyclic = true, per = "kind" }``."""

    source: str = "source_id"
    """The column an edge leaves from."""
    target: str = "target_id"
    """The column an edge goes to (the same type as ``source``)."""
    acyclic: bool | tuple[str, ...] = True
    """Refuse an edge that closes a cycle (race-free: see docs/hierarchy.md). A list of
    relationship types (with ``per``): only the graphs of those types are kept acyclic
    (``["parent", "depends_on"]``; a ``related`` edge may close a cycle)."""
    per: str | None = None
    """A relationship-type column: the graph of each type is checked on its own."""
    no_self_loops: bool = True
    """Refuse an edge from a node to itself."""
    duplicates: Literal["refuse", "ignore", "allow"] = "refuse"
    """A second edge between the same nodes (of the same type): an error, silently not
    inserted, or allowed."""

    @model_validator(mode="after")
    def _distinct(self) -> GraphOptions:
        if len({self.source, self.target, self.per}) != 3:
            raise ValueError("source, target and per must name different columns")
        if isinstance(self.acyclic, tuple):
            if self.per is None:
                raise ValueError("acyclic lists relationship types: name their column in per")
            if not self.acyclic or len(set(self.acyclic)) != len(self.acyclic):
                raise ValueError("acyclic lists each relationship type once (or is true/false)")
        return self
