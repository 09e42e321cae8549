"""The ``checks`` declaration: named CHECK expressions, and the JSON shape short form."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pgwarden.spec import FeatureOptions

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

JsonType = Literal["string", "number", "boolean", "object", "array", "null"]


class CheckSpec(BaseModel):
    """One named check: ``check`` (a boolean SQL expression over the table's columns), or a
    JSON shape of the jsonb column ``jsonb`` (``required`` keys, ``types`` by key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str | None = None
    """A boolean SQL expression, as in ``CHECK (...)`` (``char_length(title) <= 200``)."""
    jsonb: str | None = None
    """A jsonb column whose shape is checked: an object with ``required`` keys whose values
    have ``types``."""
    required: tuple[str, ...] = ()
    types: dict[str, JsonType] = Field(default_factory=dict)
    """``jsonb_typeof`` of each key, when the key is present (``{ tags = "array" }``)."""
    not_valid: bool = False
    """Add it ``NOT VALID`` only: new and updated rows are checked, existing rows are not
    (pgwarden then never validates it, and existing violations do not stop the plan)."""

    @model_validator(mode="after")
    def _one_form(self) -> CheckSpec:
        if (self.check is None) == (self.jsonb is None):
            raise ValueError("give either check = '<SQL expression>' or jsonb = '<column>'")
        if self.check is not None and (self.required or self.types):
            raise ValueError("required and types go with jsonb = '<column>', not with check")
        if self.check is not None and not self.check.strip():
            raise ValueError("check is an empty expression")
        return self


class ChecksOptions(FeatureOptions):
    """``checks``: a table of named checks, each an expression or a table of options::

    [tables."public.tasks".checks]
    title_length = "char_length(title) between 1 and 200"
    priority = { check = "priority between 1 and 5", not_valid = true }
    metadata = { jsonb = "metadata", required = ["source"], types = { tags = "array" } }
    """

    checks: dict[str, CheckSpec] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        # Users write the checks directly under `checks`; the model keeps them in one field.
        if isinstance(data, dict) and set(data) != {"checks"}:
            return {
                "checks": {k: ({"check": v} if isinstance(v, str) else v) for k, v in data.items()}
            }
        return data

    @field_validator("checks")
    @classmethod
    def _names(cls, value: dict[str, CheckSpec]) -> dict[str, CheckSpec]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"check name {name!r}: 1 to 63 lowercase letters, digits or underscores"
                )
        return value
