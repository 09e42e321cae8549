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
from pgwarden.spec._sections import SECTION_GROUP, section_models

__all__ = [
    "SECTION_GROUP",
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
    "section_models",
]
