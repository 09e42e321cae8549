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
    """The deepest a row may be (counted from ``top``); none by default."""
    top: int = Field(default=0, ge=0, le=1)
    """The depth of a root: 0, or 1 for a 1-based ``level`` column."""
    scope: str | None = None
    """A column that a row and its parent must share (one tree per deed, per tenant)."""

    @model_validator(mode="after")
    def _distinct(self) -> HierarchyOptions:
        names = [self.parent, self.path, self.depth, *([self.scope] if self.scope else [])]
        if len(set(names)) != len(names):
            raise ValueError("parent, path, depth and scope must name different columns")
        return self
