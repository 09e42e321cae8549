"""Reading ``pgwarden.toml`` into a :class:`Spec`; errors point at the file, table and key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pgwarden._names import QualifiedName, closest
from pgwarden.errors import ConfigError, SpecError
from pgwarden.spec._model import (
    DatabaseSection,
    FeatureOptions,
    ServerSection,
    Spec,
    TableSpec,
    WorkerSection,
)
from pgwarden.spec._sections import section_models

_SECTIONS: dict[str, type[BaseModel] | None] = {
    "database": DatabaseSection,
    "server": ServerSection,
    "worker": WorkerSection,
    "tables": None,
}


def load_spec(path: Path, *, features: Mapping[str, type[FeatureOptions]] | None = None) -> Spec:
    """Read and validate the file at ``path``. A missing file is an empty declaration."""
    if not path.exists():
        return Spec(file=str(path), path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_spec(text, file=str(path), features=features, path=path)


def parse_spec(
    text: str,
    *,
    file: str = "pgwarden.toml",
    features: Mapping[str, type[FeatureOptions]] | None = None,
    sections: Mapping[str, type[BaseModel]] | None = None,
    path: Path | None = None,
) -> Spec:
    """Validate TOML ``text``. ``features`` maps feature names to their options models
    (default: every feature pgwarden has); ``sections`` maps the other top-level sections to
    theirs (default: every owner registered under ``pgwarden.sections``)."""
    if features is None:
        from pgwarden.features import option_models

        features = option_models()
    if sections is None:
        sections = section_models()
    known = {**_SECTIONS, **sections}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not valid TOML: {exc}", file=file) from exc
    locate = _Locator(text)
    for key in data:
        if key not in known:
            raise SpecError(
                "unknown section",
                file=file,
                key=f"[{key}]",
                line=locate.section(key),
                suggestion=closest(key, known),
            )
    database = _section(data, "database", DatabaseSection, file, locate)
    server = _section(data, "server", ServerSection, file, locate)
    worker = _section(data, "worker", WorkerSection, file, locate)
    raw_tables = data.get("tables", {})
    if not isinstance(raw_tables, dict):
        raise SpecError("must be a table of tables", file=file, key="tables")
    tables: dict[QualifiedName, TableSpec] = {}
    for key, body in raw_tables.items():
        spec = _table(key, body, features, file, locate)
        if spec.name in tables:
            first = tables[spec.name].key
            raise SpecError(
                f"declares {spec.name} a second time (first as {first!r})", file=file, table=key
            )
        tables[spec.name] = spec
    owned = {
        name: _section(data, name, model, file, locate)
        for name, model in sections.items()
        if name in data
    }
    return Spec(
        file=file,
        database=database,
        server=server,
        worker=worker,
        tables=tables,
        sections=owned,
        path=path,
    )


def _section(data: dict[str, Any], name: str, model: type[Any], file: str, locate: _Locator) -> Any:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise SpecError("must be a section", file=file, key=f"[{name}]")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = _from_validation(exc, model, file=file, table=None, prefix=name, locate=locate)
        raise error from None


def _table(
    key: str,
    body: Any,
    features: Mapping[str, type[FeatureOptions]],
    file: str,
    locate: _Locator,
) -> TableSpec:
    try:
        name = QualifiedName.parse(key)
    except ValueError as exc:
        raise SpecError(str(exc), file=file, table=key, line=locate.table(key)) from None
    if not isinstance(body, dict):
        raise SpecError("must be a section of feature = options", file=file, table=key)
    declared: dict[str, FeatureOptions] = {}
    for feature, value in body.items():
        line = locate.key(key, feature)
        model = features.get(feature)
        if model is None:
            raise SpecError(
                "unknown feature",
                file=file,
                table=key,
                key=feature,
                line=line,
                suggestion=closest(feature, features),
            )
        if value is False:
            continue
        if value is True:
            value = {}
        if not isinstance(value, dict):
            raise SpecError(
                f"expected true, false or a table of options, got {_kind(value)}",
                file=file,
                table=key,
                key=feature,
                line=line,
            )
        try:
            declared[feature] = model.model_validate(value)
        except ValidationError as exc:
            raise _from_validation(
                exc, model, file=file, table=key, prefix=feature, locate=locate
            ) from None
    return TableSpec(name=name, key=key, features=declared, line=locate.table(key))


def _from_validation(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    file: str,
    table: str | None,
    prefix: str,
    locate: _Locator,
) -> SpecError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = ".".join([prefix, *loc])
    if table is not None:
        line = locate.key(table, prefix)  # options sit on the feature's line (inline table)
    else:
        line = locate.key(None, loc[0] if loc else prefix, section=prefix)
    if err["type"] == "extra_forbidden":
        return SpecError(
            "unknown option",
            file=file,
            table=table,
            key=key,
            line=line,
            suggestion=closest(loc[-1], model.model_fields),
        )
    message = err["msg"].removeprefix("Value error, ")
    return SpecError(
        f"{message} (got {_kind(err.get('input'))})",
        file=file,
        table=table,
        key=key,
        line=line,
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


class _Locator:
    """Best-effort line numbers for keys: tomllib keeps none, so we look in the text."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def section(self, name: str) -> int | None:
        pattern = re.compile(r"^\s*\[+\s*" + re.escape(name) + r"\b")
        return self._find(pattern, 0, within_section=False)

    def table(self, key: str) -> int | None:
        quoted = re.escape(key)
        pattern = re.compile(r'^\s*\[\s*tables\s*\.\s*(?:"' + quoted + r'"|' + quoted + r")\s*\]")
        return self._find(pattern, 0, within_section=False)

    def key(self, table: str | None, key: str, *, section: str | None = None) -> int | None:
        start = self.table(table) if table is not None else self.section(section or "")
        if start is None:
            return None
        pattern = re.compile(r'^\s*"?' + re.escape(key) + r'"?\s*[=.]')
        found = self._find(pattern, start, within_section=True)
        return found if found is not None else start

    def _find(self, pattern: re.Pattern[str], start: int, *, within_section: bool) -> int | None:
        for number, line in enumerate(self.lines[start:], start=start + 1):
            if within_section and line.lstrip().startswith("["):
                return None
            if pattern.search(line):
                return number
        return None
