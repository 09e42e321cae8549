"""Options of the ``search`` feature, as written in ``pgwarden.toml``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pgwarden.spec import FeatureOptions

_CONFIG = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


class SearchOptions(FeatureOptions):
    """``search = { columns = { name = "A", description = "B" }, fuzzy = ["name"] }``."""

    columns: dict[str, Literal["A", "B", "C", "D"]] = Field(min_length=1)
    """Searched columns and their weight (A counts most). Text, varchar, json/jsonb (its
    string values) and text[] columns."""
    language: str = "english"
    """The text search configuration (``select cfgname from pg_ts_config``)."""
    unaccent: bool = False
    """Fold accents (``café`` finds ``cafe``) with the ``unaccent`` extension."""
    fuzzy: tuple[str, ...] = ()
    """Text columns with a trigram index: a query the text search finds nothing for falls
    back to the rows most similar to it (typos)."""
    fuzzy_threshold: float = Field(default=0.3, gt=0, le=1)
    """How similar (``word_similarity``, 0..1) a word must be to count as a typo of the text."""
    column: str = "search_vector"
    """The ``tsvector`` column pgwarden keeps (an existing tsvector column is adopted)."""
    batch: int = Field(default=5_000, ge=100, le=1_000_000)
    """Rows per committed batch when filling the vectors of existing rows."""
    top: int = Field(default=500, ge=0, le=100_000)
    """Rows kept, best first, for each common word (one-word queries then rank only these,
    exactly; see ``docs/search.md``). 0: none kept, every query ranks all its matches."""
    common: int = Field(default=5_000, ge=10)
    """A word in at least this many rows is common: its best rows are kept."""

    @field_validator("language")
    @classmethod
    def _config(cls, value: str) -> str:
        if not _CONFIG.match(value):
            raise ValueError("a text search configuration name, like english or simple")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> SearchOptions:
        if self.column in self.columns:
            raise ValueError(f"column {self.column!r} holds the vector: it cannot be searched")
        if len(set(self.fuzzy)) != len(self.fuzzy):
            raise ValueError("fuzzy names a column twice")
        return self
