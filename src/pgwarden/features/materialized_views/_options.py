"""``[materialized_views."schema.name"]``: a declared materialized view and its refresh."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from pgwarden._names import QualifiedName
from pgwarden.errors import SpecError
from pgwarden.spec import Duration, DurationField, Spec

SECTION = "materialized_views"

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")


class ViewSpec(BaseModel):
    """One declared materialized view."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str | None = None
    """Its SELECT, inline."""
    file: str | None = None
    """Or a ``.sql`` file holding its SELECT, relative to ``pgwarden.toml``."""
    unique_key: tuple[str, ...] = ()
    """Columns that identify a row of the view: a unique index on them lets refreshes run
    ``CONCURRENTLY`` (readers never wait). Without one, a refresh takes ACCESS EXCLUSIVE."""
    indexes: tuple[tuple[str, ...], ...] = ()
    """Other indexes, each a list of columns (``[["user_id", "day"]]``)."""
    refresh: DurationField | None = None
    """Refresh every this long (``"5 min"``)."""
    window: str | None = None
    """Refresh only inside this time of day, ``'HH:MM-HH:MM'`` in ``timezone`` (may wrap
    midnight); alone, once per window (a nightly refresh)."""
    timezone: str = "UTC"
    """The IANA time zone of ``window`` (``Europe/Paris``): local time, DST included."""
    max_staleness: DurationField | None = None
    """Older than this since its last refresh, ``status`` and the metric say it is stale."""
    keep_log: DurationField = Duration.parse("30 days")
    """How long each refresh's record (start, duration, rows) is kept."""
    incremental: bool = False
    """Keep the view from audit's change feed instead of recomputing it (a ``GROUP BY`` of
    ``count`` / ``sum`` / ``min`` / ``max`` over one audited table): each refresh applies
    only what changed since the last. The plan refuses, saying why, a query that does not
    qualify, and says of every other view whether it would."""

    @model_validator(mode="after")
    def _one_query(self) -> ViewSpec:
        if (self.query is None) == (self.file is None):
            raise ValueError("give either query = '<SELECT ...>' or file = '<name>.sql'")
        if self.refresh is None and self.window is None:
            raise ValueError("give refresh = '<interval>' and/or window = 'HH:MM-HH:MM'")
        if self.refresh is not None and self.refresh.seconds < 1:
            raise ValueError("refresh must be at least 1s")
        return self

    @field_validator("unique_key")
    @classmethod
    def _key(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for column in value:
            if not _COLUMN.match(column):
                raise ValueError(f"column {column!r}: a lowercase identifier")
        return value

    @field_validator("indexes")
    @classmethod
    def _indexes(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for index in value:
            if not index:
                raise ValueError("an index needs at least one column")
            cls._key(index)
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.replace(" ", "")
        match = _WINDOW.match(value)
        if not match or match.group(1, 2) == match.group(3, 4):
            raise ValueError("a time-of-day window is written 'HH:MM-HH:MM', e.g. '01:00-05:00'")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class MaterializedViewsSection(RootModel[dict[str, ViewSpec]]):
    """``[materialized_views."schema.name"]`` sections, by view name."""

    model_config = ConfigDict(frozen=True)
    root: dict[str, ViewSpec] = Field(default_factory=dict)

    @field_validator("root")
    @classmethod
    def _names(cls, value: dict[str, ViewSpec]) -> dict[str, ViewSpec]:
        for key in value:
            QualifiedName.parse(key)  # ValueError says what is wrong
        return value


def declared_views(spec: Spec) -> dict[QualifiedName, ViewSpec]:
    """The views ``spec`` declares, by name."""
    section = spec.section(SECTION, MaterializedViewsSection)
    return {QualifiedName.parse(k): v for k, v in section.root.items()}


def view_query(spec: Spec, name: QualifiedName, view: ViewSpec) -> str:
    """The view's SELECT (read from its file when it has one), without a trailing ``;``."""
    if view.query is not None:
        text = view.query
    else:
        assert view.file is not None
        base = spec.path.parent if spec.path else Path.cwd()
        path = base / view.file
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError(
                f"cannot read {path}: {exc.strerror}",
                file=spec.file,
                key=f'[materialized_views."{name}"] file',
            ) from None
    return text.strip().rstrip(";").strip()
