"""Reading pgwarden.toml: typed options, and errors that name the file, table and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgwarden import ConfigError, SpecError
from pgwarden._names import QualifiedName, owned_name
from pgwarden.config import resolve_target
from pgwarden.db import redact_url
from pgwarden.features.timestamps import TimestampsOptions
from pgwarden.spec import Duration, Spec, load_spec, parse_spec


def test_valid_file_is_typed() -> None:
    spec = parse_spec(
        """
[database]
url = "env:APP_DB"
lock_timeout = "750ms"
retries = 2

[tables."public.entries"]
timestamps = { created = "inserted_at" }

[tables.users]
timestamps = true

[tables."public.other"]
timestamps = false
""",
        file="app.toml",
    )
    assert spec.database.lock_timeout.milliseconds == 750
    assert spec.database.retries == 2
    entries = spec.tables[QualifiedName("public", "entries")]
    assert entries.features["timestamps"] == TimestampsOptions(created="inserted_at")
    assert (
        spec.tables[QualifiedName("public", "users")].features["timestamps"] == TimestampsOptions()
    )
    assert spec.tables[QualifiedName("public", "other")].features == {}


@pytest.mark.parametrize(
    ("text", "pattern", "suggestion"),
    [
        (
            '[tables."public.t"]\ntimestamp = true\n',
            r'app\.toml:2: \[tables\."public\.t"\] timestamp: unknown feature',
            "timestamps",
        ),
        (
            '[tables."public.t"]\ntimestamps = { creatd = "x" }\n',
            r'app\.toml:2: \[tables\."public\.t"\] timestamps\.creatd: unknown option',
            "created",
        ),
        (
            '[tables."public.t"]\ntimestamps = "yes"\n',
            r"timestamps: expected true, false or a table of options, got 'yes'",
            None,
        ),
        (
            '[tables."public.t"]\ntimestamps = { created = 3 }\n',
            r"timestamps\.created: .*string.* \(got int 3\)",
            None,
        ),
        (
            '[tables."public.t"]\ntimestamps = { created = "a", updated = "a" }\n',
            r"created and updated must be different",
            None,
        ),
        ("[databse]\nurl = 'x'\n", r"app\.toml:1: \[databse\]: unknown section", "database"),
        (
            "[database]\nlock_timeout = 'soon'\n",
            r"database\.lock_timeout: 'soon' is not a duration",
            None,
        ),
        (
            "[database]\nlock_timout = '1s'\n",
            r"database\.lock_timout: unknown option",
            "lock_timeout",
        ),
        ('[tables."a.b.c"]\ntimestamps = true\n', r"is not a table name", None),
        ("[database]\nretries = -1\n", r"database\.retries: .*greater than or equal to 0", None),
        (
            "[database]\nlock_timeout = '0s'\n",
            r"database\.lock_timeout: must be at least 1ms",
            None,
        ),
        ("[tables\nx", r"not valid TOML", None),
    ],
)
def test_errors_name_file_table_key(text: str, pattern: str, suggestion: str | None) -> None:
    with pytest.raises(SpecError, match=pattern) as info:
        parse_spec(text, file="app.toml")
    assert info.value.file == "app.toml"
    assert info.value.suggestion == suggestion
    if suggestion:
        assert f"did you mean {suggestion!r}?" in str(info.value)


def test_same_table_declared_twice() -> None:
    text = '[tables."public.t"]\ntimestamps = true\n[tables.t]\ntimestamps = true\n'
    with pytest.raises(SpecError, match=r"declares public\.t a second time"):
        parse_spec(text)


def test_quoted_names_keep_case_and_dots() -> None:
    spec = parse_spec('[tables."\\"My Schema\\".\\"a.b\\""]\ntimestamps = true\n')
    (name,) = spec.tables
    assert name == QualifiedName("My Schema", "a.b")
    assert str(name) == '"My Schema"."a.b"'


def test_missing_default_file_is_empty_but_explicit_path_must_exist(tmp_path: Path) -> None:
    assert load_spec(tmp_path / "pgwarden.toml").tables == {}
    from pgwarden.config import load_config

    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "seconds", "interval"),
    [("5s", 5, "5 seconds"), ("500ms", 0.5, "500 milliseconds"), ("90 days", 7_776_000, "90 days"),
     ("2 years", 63_115_200, "2 years"), ("10 minutes", 600, "10 minutes")],
)  # fmt: skip
def test_durations(text: str, seconds: float, interval: str) -> None:
    duration = Duration.parse(text)
    assert duration.seconds == pytest.approx(seconds)
    assert duration.interval == interval


def test_url_precedence() -> None:
    spec = parse_spec('[database]\nurl = "env:APP_DB"\n')
    env = {"APP_DB": "postgresql://app@h/db", "DATABASE_URL": "postgresql://d@h/d"}
    assert resolve_target(spec, environ=env).source == "DATABASE_URL"
    env["PGWARDEN_DATABASE_URL"] = "postgresql://p@h/p"
    assert resolve_target(spec, environ=env).url == "postgresql://p@h/p"
    assert resolve_target(spec, url="postgresql://x@h/x", environ=env).source == "--database-url"
    assert resolve_target(spec, environ={"APP_DB": "postgresql://app@h/db"}).url == (
        "postgresql://app@h/db"
    )
    with pytest.raises(ConfigError, match=r"\$APP_DB is not set"):
        resolve_target(spec, environ={})
    assert resolve_target(Spec.empty(), environ={}).embedded


def test_passwords_are_redacted() -> None:
    assert redact_url("postgresql://bob:s3cret@db.example:5433/app") == (
        "postgresql://bob:***@db.example:5433/app"
    )
    assert "s3cret" not in redact_url("host=db user=bob password=s3cret dbname=app")
    assert redact_url("postgresql://bob@db/app") == "postgresql://bob@db/app"


def test_owned_names_fit_and_do_not_collide() -> None:
    long_a = owned_name("public", "a" * 80, suffix="timestamps")
    long_b = owned_name("public", "a" * 79 + "b", suffix="timestamps")
    assert len(long_a.encode()) <= 63 and len(long_b.encode()) <= 63
    assert long_a != long_b
    assert owned_name("public", "items", suffix="timestamps") == "public_items__timestamps"


def test_sections_owned_by_modules_are_validated_by_their_model() -> None:
    from pydantic import BaseModel, ConfigDict

    class Probe(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        every: int = 5

    spec = parse_spec("[probe]\nevery = 7\n", sections={"probe": Probe})
    assert spec.section("probe", Probe).every == 7
    assert parse_spec("", sections={"probe": Probe}).section("probe", Probe).every == 5
    with pytest.raises(SpecError) as err:
        parse_spec("[probe]\nevry = 7\n", sections={"probe": Probe})
    assert "probe.evry: unknown option" in str(err.value)
    assert err.value.suggestion == "every"
    with pytest.raises(SpecError) as err:
        parse_spec("[prob]\n", sections={"probe": Probe})
    assert err.value.suggestion == "probe"
