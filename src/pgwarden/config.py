"""Where the database is: ``PGWARDEN_DATABASE_URL``, then ``DATABASE_URL``, then the file's
``[database] url`` (``env:NAME`` reads another variable), else the embedded server; and its
replicas (``[database] replicas``, the same ``env:NAME`` convention)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pgwarden.db import redact_url
from pgwarden.errors import ConfigError
from pgwarden.spec import Spec, load_spec

DEFAULT_CONFIG = Path("pgwarden.toml")
ENV_URLS = ("PGWARDEN_DATABASE_URL", "DATABASE_URL")


@dataclass(frozen=True)
class Target:
    """The database to use and where its URL came from (for ``status`` and errors)."""

    url: str | None
    """None: use the embedded server."""
    source: str

    @property
    def embedded(self) -> bool:
        return self.url is None

    def display(self) -> str:
        return "embedded server" if self.url is None else redact_url(self.url)


def load_config(path: Path | None = None) -> Spec:
    """The declaration at ``path`` (default ``./pgwarden.toml``; a missing file declares nothing,
    unless a path was given explicitly)."""
    if path is not None and not path.exists():
        raise ConfigError(f"{path}: no such file", hint="run `pgwarden init` to write one")
    return load_spec(path or DEFAULT_CONFIG)


def resolve_target(
    spec: Spec, *, url: str | None = None, environ: Mapping[str, str] | None = None
) -> Target:
    """Pick the database URL by precedence: explicit, environment, file, embedded."""
    env = os.environ if environ is None else environ
    if url:
        return Target(url, "--database-url")
    for name in ENV_URLS:
        if env.get(name):
            return Target(env[name], name)
    file_url = spec.database.url
    if not file_url:
        return Target(None, "no URL given")
    if file_url.startswith("env:"):
        value = _from_env(spec, "url", file_url, env, "remove the url to use the embedded server")
        return Target(value, f"{spec.file} via ${file_url[4:]}")
    return Target(file_url, spec.file)


def resolve_replicas(spec: Spec, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The URLs of ``[database] replicas``, ``env:NAME`` entries read from the environment
    (an unset variable is an error naming the file and the entry)."""
    env = os.environ if environ is None else environ
    return tuple(
        _from_env(spec, f"replicas[{i}]", entry, env, "remove the entry")
        if entry.startswith("env:")
        else entry
        for i, entry in enumerate(spec.database.replicas)
    )


def _from_env(spec: Spec, key: str, entry: str, env: Mapping[str, str], otherwise: str) -> str:
    name = entry[4:]
    value = env.get(name)
    if not value:
        # No silent fallback (to the embedded server, or to no replica): the file asked for it.
        raise ConfigError(
            f"{spec.file}: [database] {key} = {entry!r}, but ${name} is not set",
            hint=f"export {name}=postgresql://... or {otherwise}",
        )
    return value
