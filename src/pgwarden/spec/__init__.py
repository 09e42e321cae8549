"""What the user declares: ``pgwarden.toml`` as a typed, validated model."""

from pgwarden.spec._durations import Duration
from pgwarden.spec._load import load_spec, parse_spec
from pgwarden.spec._model import (
    DatabaseSection,
    DurationField,
    FeatureOptions,
    ServerSection,
    Spec,
    TableSpec,
)

__all__ = [
    "DatabaseSection",
    "Duration",
    "DurationField",
    "FeatureOptions",
    "ServerSection",
    "Spec",
    "TableSpec",
    "load_spec",
    "parse_spec",
]
