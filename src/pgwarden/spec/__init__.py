"""What the user declares: ``pgwarden.toml`` as a typed, validated model."""

from pgwarden.spec._durations import Duration
from pgwarden.spec._load import load_spec, parse_spec
from pgwarden.spec._model import (
    DatabaseSection,
    DurationField,
    FeatureOptions,
    JobSchedule,
    ServerSection,
    Spec,
    TableSpec,
    WorkerSection,
)

__all__ = [
    "DatabaseSection",
    "Duration",
    "DurationField",
    "FeatureOptions",
    "JobSchedule",
    "ServerSection",
    "Spec",
    "TableSpec",
    "WorkerSection",
    "load_spec",
    "parse_spec",
]
