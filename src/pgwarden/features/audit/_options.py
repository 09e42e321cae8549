"""Options of the ``audit`` feature, as written in ``pgwarden.toml``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pgwarden.spec import Duration, DurationField, FeatureOptions


def _every(value: Any) -> Duration | int:
    """A duration (``"1 day"``) or a number of changes (``500000``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected a duration such as '1 day' or a number of changes")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be a positive number of changes, e.g. 500000")
        return value
    every = Duration.parse(value)
    if every.seconds <= 0:
        raise ValueError("must be a positive duration, e.g. '1 day'")
    return every


CheckpointEvery = Annotated[
    Duration | int,
    BeforeValidator(_every),
    PlainSerializer(lambda v: v if isinstance(v, int) else v.text),
]


class AuditOptions(FeatureOptions):
    """``audit = true`` or ``audit = { exclude = ["updated_at"], redact = ["email"] }``."""

    exclude: list[str] = []
    """Columns not recorded; an UPDATE that changes only these creates no event."""
    redact: list[str] = []
    """Columns recorded as a keyed hash (``sha256:...``), never their value."""
    skip_unchanged: bool = True
    """No event for an UPDATE that changes nothing (after ``exclude``)."""
    truncate: Literal["event", "rows"] = "rows"
    """``rows``: record every row a TRUNCATE removes (history and time travel stay exact);
    ``event``: only the fact (cheap on big tables; time travel cannot see across it)."""
    capture: Literal["auto", "trigger", "wal"] = "auto"
    """``trigger``: events written by the changing statement itself (visible at its commit).
    ``wal``: the statement only marks its context; rows are read from the WAL by the ingester
    (``pgwarden audit ingest --follow``, the worker, or any read through the Python API),
    which costs the writers far less. Needs ``wal_level = logical``, a role with
    REPLICATION and a free replication slot. ``auto``: ``wal`` where the server and role
    allow it, ``trigger`` otherwise (the plan says which, and what would unlock the WAL)."""
    wal_marker: Literal["auto", "c", "plpgsql"] = "auto"
    """With ``capture = "wal"``, the function of the statement trigger sending each
    transaction's context: ``c`` (``warden_wal.statement()`` of extension ``pgwarden_wal``,
    a fraction of the writers' cost), ``plpgsql`` (``warden.audit_wal_statement()``), or
    ``auto``: C when the extension is installed, or available and the applying role a
    superuser."""
    key: list[str] | None = None
    """Columns identifying a row when the table has no primary key."""
    archive_after: DurationField | None = None
    """Events older than this move from the hot store to ``warden.audit_events_archive``
    (job ``audit-archive``); every read still sees them."""
    retention: DurationField | None = None
    """Events older than this are deleted by ``pgwarden audit prune`` (in batches), from the
    hot store and the archive alike."""

    checkpoint_every: CheckpointEvery | None = None
    """Keep checkpoints of the table (its whole state at a time) so that ``as_of`` reads at
    most one interval of changes: a new one each ``"1 day"`` (when the table changed), or
    after every ``500000`` changes (job ``audit-checkpoint``)."""
    checkpoint_keep: DurationField | None = None
    """How long checkpoints are kept (default: the table's ``retention``, else for ever);
    ``as_of`` to an older time reads the changes since then instead."""

    @field_validator("checkpoint_keep")
    @classmethod
    def _keep_positive(cls, value: Duration | None, info: ValidationInfo) -> Duration | None:
        if value is None:
            return value
        if value.seconds <= 0:
            raise ValueError("must be a positive duration, e.g. '90 days'")
        if info.data.get("checkpoint_every") is None:
            raise ValueError("applies only with checkpoint_every")
        return value

    @field_validator("archive_after")
    @classmethod
    def _positive(cls, value: Duration | None) -> Duration | None:
        if value is not None and value.seconds <= 0:
            raise ValueError("must be a positive duration, e.g. '5 years'")
        return value

    @field_validator("retention")
    @classmethod
    def _outlives_archive(cls, value: Duration | None, info: ValidationInfo) -> Duration | None:
        # A field validator (not the model's), so the error names audit.retention.
        after = info.data.get("archive_after")
        if value is not None and after is not None and value.seconds <= after.seconds:
            raise ValueError(
                f"must be longer than archive_after ({after}): events would be deleted "
                "before or as soon as they are archived"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AuditOptions:
        if self.wal_marker != "auto" and self.capture == "trigger":
            raise ValueError('wal_marker applies only to capture = "wal" (or "auto")')
        both = sorted(set(self.exclude) & set(self.redact))
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both excluded and redacted")
        if self.key is not None:
            if not self.key:
                raise ValueError("key needs at least one column")
            hidden = sorted(set(self.key) & (set(self.exclude) | set(self.redact)))
            if hidden:
                raise ValueError(f"key column {', '.join(hidden)} cannot be excluded or redacted")
        return self
