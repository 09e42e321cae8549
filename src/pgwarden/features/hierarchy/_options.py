"""Options of the ``hierarchy`` feature, as written in ``pgwarden.toml``."""

from __future__ import annotations

from pydantic import Field, model_validator

from pgwarden.spec import FeatureOptions


class HierarchyOptions(FeatureOptions):
    """``hierarchy = { parent = "parent_id", max_depth = 5 }``."""

    parent: str = "parent_id"
    """The column naming the row's parent (a foreign key to the table's own key)."""
    path: str = "tree_path"
    """The column pgwarden keeps: the keys from the root down to the row (an array)."""
    depth: str = "tree_depth"
    """The column pgwarden keeps: 0 for a root."""
    max_depth: int | None = Field(default=None, ge=0, le=10_000)
    """The deepest a row may be (a root is at depth 0); none by default."""

    @model_validator(mode="after")
    def _distinct(self) -> HierarchyOptions:
        if len({self.parent, self.path, self.depth}) != 3:
            raise ValueError("parent, path and depth must name different columns")
        return self
