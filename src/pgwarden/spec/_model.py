"""The typed model of ``pgwarden.toml``: what the user declares, already validated."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from pgwarden._names import QualifiedName
from pgwarden.spec._durations import Duration


def _to_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Duration(text=f"{value}s", seconds=float(value))
    if isinstance(value, str):
        return Duration.parse(value)
    raise ValueError("expected a duration such as '5s' or '90 days'")


DurationField = Annotated[
    Duration, BeforeValidator(_to_duration), PlainSerializer(lambda d: d.text, return_type=str)
]


class FeatureOptions(BaseModel):
    """Base of every feature's options: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSection(BaseModel):
    """``[database]``: where the database is and how pgwarden may lock it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    """``postgresql://...``, or ``env:NAME`` to read it from an environment variable."""
    lock_timeout: DurationField = Duration.parse("5s")
    """Longest wait for one lock while applying; then pgwarden backs off and retries."""
    retries: int = Field(default=5, ge=0, le=100)
    """How many times a statement that hit ``lock_timeout`` is retried."""
    replicas: tuple[str, ...] = ()
    """Streaming standbys that read-only sessions may read from: each ``postgresql://...``
    or ``env:NAME``, like ``url``."""
    max_lag: DurationField = Duration.parse("5s")
    """A replica further behind the primary than this is not read from."""
    replay_wait: DurationField = Duration.parse("1s")
    """How long a read that must see an earlier write waits for a replica to replay it
    before it reads on the primary instead (0s: never waits)."""
    replica_check: DurationField = Duration.parse("500ms")
    """How often the replicas' health and lag are measured (routing uses the last measure)."""

    @field_validator("lock_timeout", "max_lag", "replica_check")
    @classmethod
    def _positive(cls, value: Duration, info: ValidationInfo) -> Duration:
        if value.milliseconds < 1:
            why = " (0 would mean waiting forever)" if info.field_name == "lock_timeout" else ""
            raise ValueError(f"must be at least 1ms{why}")
        return value

    @field_validator("replicas")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not entry.strip() or entry.strip() == "env:":
                raise ValueError("each replica is a 'postgresql://...' URL or 'env:NAME'")
        if len(set(value)) != len(value):
            raise ValueError("a replica is listed twice")
        return value


class ServerSection(BaseModel):
    """``[server]``: the embedded PostgreSQL used when no database URL is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: str = ".pgwarden"
    database: str = "postgres"


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _check_window(value: str | None) -> str | None:
    if value is not None:
        match = _WINDOW.match(value.replace(" ", ""))
        if not match or match.group(1, 2) == match.group(3, 4):
            raise ValueError("a time-of-day window is written 'HH:MM-HH:MM', e.g. '01:00-05:00'")
        return value.replace(" ", "")
    return value


class JobSchedule(BaseModel):
    """``[worker.jobs.<job>]``: when the worker runs one job (``partition-retention``...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: DurationField | None = None
    """How often (default: ``[worker] every``)."""
    window: str | None = None
    """Only inside this time of day, ``'HH:MM-HH:MM'`` (may wrap midnight)."""

    _window = field_validator("window")(classmethod(lambda cls, v: _check_window(v)))


class WorkerSection(BaseModel):
    """``[worker]``: the schedule of ``pgwarden worker``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick: DurationField = Duration.parse("30s")
    """How often the worker wakes up to look for due jobs."""
    every: DurationField = Duration.parse("10 minutes")
    """Default interval between two runs of one job."""
    window: str | None = None
    """Default time-of-day window, ``'HH:MM-HH:MM'`` (none: any time)."""
    timezone: str = "UTC"
    """Time zone of the windows (an IANA name such as ``Europe/Paris``)."""
    jobs: dict[str, JobSchedule] = Field(default_factory=dict)
    """Per-job schedules, by job name."""

    _window = field_validator("window")(classmethod(lambda cls, v: _check_window(v)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


@dataclass(frozen=True)
class TableSpec:
    """One ``[tables."schema.table"]`` section: the features declared for it, by name."""

    name: QualifiedName
    key: str
    """The section name exactly as written in the file (for error messages)."""
    line: int | None = None
    features: dict[str, FeatureOptions] = field(default_factory=dict)


_Section = TypeVar("_Section", bound=BaseModel)


@dataclass(frozen=True)
class Spec:
    """A validated ``pgwarden.toml``."""

    file: str
    database: DatabaseSection = field(default_factory=DatabaseSection)
    server: ServerSection = field(default_factory=ServerSection)
    worker: WorkerSection = field(default_factory=WorkerSection)
    tables: dict[QualifiedName, TableSpec] = field(default_factory=dict)
    sections: dict[str, BaseModel] = field(default_factory=dict)
    """Top-level sections owned by modules and features (``[monitor]``, ``[backup]``...),
    validated by the model each registered under ``pgwarden.sections``; only those written."""
    path: Path | None = None

    def section(self, name: str, model: type[_Section]) -> _Section:
        """The validated ``[name]`` section, or ``model()``'s defaults when the file has none."""
        found = self.sections.get(name)
        if found is None:
            return model()
        if not isinstance(found, model):
            raise TypeError(
                f"[{name}] was validated by {type(found).__name__}, not {model.__name__}"
            )
        return found

    @classmethod
    def empty(cls, file: str = "pgwarden.toml") -> Spec:
        return cls(file=file)
