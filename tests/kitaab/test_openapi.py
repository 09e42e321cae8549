"""The OpenAPI document types every response, and what the API sends matches it: a realistic
scenario (account, onboarding, entries, connection and permissions, merit and target,
reflection, messages, reminder, dashboard, history, audit) checked against the pydantic
models and, independently, against the published JSON schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from tests.kitaab.conftest import Account, Clock

from pgwarden.blueprints.kitaab.api import _models as models
from pgwarden.blueprints.kitaab.services import Kitaab

# Row snapshots from the audit trail: their columns are the audited table's, free-form JSON.
FREE_FORM = {("EntryVersion", "row"), ("AuditEvent", "old"), ("AuditEvent", "new"),
             ("AuditEvent", "key")}  # fmt: skip
REF = "#/components/schemas/"


def test_every_json_response_is_typed(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    typed: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if not code.startswith("2"):
                    continue
                content = response.get("content", {})
                if code == "204":
                    assert not content, (method, path)
                    continue
                schema = content["application/json"]["schema"]
                if schema.get("type") == "array":
                    schema = schema["items"]
                assert set(schema) == {"$ref"}, (method, path, code, schema)
                assert hasattr(models, schema["$ref"].removeprefix(REF)), schema
                typed.append(f"{method.upper()} {path} {code}")
    assert {"PUT /entries 200", "PUT /entries 201", "GET /audit 200"} <= set(typed)
    for name, component in schemas.items():
        if not hasattr(models, name):
            continue  # request bodies, FastAPI's validation error
        assert component["type"] == "object" and component["additionalProperties"] is False
        for field, prop in component["properties"].items():
            if (name, field) in FREE_FORM:
                continue
            assert_typed(prop, f"{name}.{field}")


def assert_typed(schema: dict[str, Any], where: str) -> None:
    """A typed schema: no untyped value and no open object, at any depth."""
    if "$ref" in schema:
        return
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            assert_typed(option, where)
        return
    assert "type" in schema, f"{where} is untyped: {schema}"
    if schema["type"] == "object":
        raise AssertionError(f"{where} is an open object: {schema}")
    if schema["type"] == "array":
        assert_typed(schema["items"], where)


def conforms(value: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> None:
    """``value`` (decoded JSON) against an OpenAPI 3.1 schema: the subset FastAPI emits."""
    if "$ref" in schema:
        conforms(value, schemas[schema["$ref"].removeprefix(REF)], schemas, where)
        return
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                conforms(value, option, schemas, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: {value!r} matches no option: {errors}")
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    if kind is None:
        return  # free-form
    check: dict[str, Callable[[Any], bool]] = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    assert check[kind](value), f"{where}: {value!r} is not {kind}"
    parse = {"date": dt.date.fromisoformat, "date-time": dt.datetime.fromisoformat,
             "time": dt.time.fromisoformat}  # fmt: skip
    if kind == "string" and schema.get("format") in parse:
        parse[schema["format"]](value)
    if kind == "array":
        for n, item in enumerate(value):
            conforms(item, schema["items"], schemas, f"{where}[{n}]")
    if kind == "object" and "properties" in schema:
        missing = set(schema.get("required", ())) - set(value)
        assert not missing, f"{where}: missing {sorted(missing)}"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(schema["properties"])
            assert not extra, f"{where}: undocumented {sorted(extra)}"
        for key, item in value.items():
            conforms(item, schema["properties"][key], schemas, f"{where}.{key}")


class Checker:
    """Checks each response: its status, the model, and the published schema of the route."""

    def __init__(self, client: TestClient):
        self.client = client
        self.spec = client.get("/openapi.json").json()
        self.seen: set[str] = set()

    def __call__(self, response: httpx.Response, model: type[BaseModel], status: int = 200) -> Any:
        assert response.status_code == status, response.text
        body = response.json()
        many = isinstance(body, list)
        TypeAdapter(list[model] if many else model).validate_python(body)
        route = response.request.url.path
        method = response.request.method.lower()
        for template, operations in self.spec["paths"].items():
            if method in operations and matches(template, route):
                schema = operations[method]["responses"][str(status)]["content"]
                conforms(body, schema["application/json"]["schema"], self.schemas, route)
                self.seen.add(f"{method.upper()} {template}")
                break
        else:
            raise AssertionError(f"{method} {route} is not in the OpenAPI document")
        return body

    @property
    def schemas(self) -> dict[str, Any]:
        return dict(self.spec["components"]["schemas"])


def matches(template: str, path: str) -> bool:
    parts, actual = template.split("/"), path.split("/")
    return len(parts) == len(actual) and all(
        p == a or (p.startswith("{") and a.isdigit()) for p, a in zip(parts, actual, strict=True)
    )


def test_scenario_matches_the_models_and_the_schema(
    client: TestClient, app: Kitaab, clock: Clock, signup: Callable[..., Account]
) -> None:
    clock.at = dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.UTC)
    check = Checker(client)
    c = client
    check(c.get("/health"), models.Health)
    email = "nadia@example.org"
    reg = check(c.post("/auth/register", json={"email": email, "password": "correct horse",
                "full_name": "Nadia", "timezone": "Asia/Karachi"}), models.Registration, 201)  # fmt: skip
    check(c.post("/auth/verify", json={"token": reg["verification_token"]}), models.Account)
    login = check(c.post("/auth/login", json={"email": email, "password": "correct horse"}),
                  models.BearerToken)  # fmt: skip
    me = {"Authorization": f"Bearer {login['token']}"}
    check(c.get("/me", headers=me), models.Account)
    check(c.patch("/me", headers=me, json={"theme": "dark", "week_start": 0}), models.Account)
    deed = check(c.post("/onboarding", headers=me, json={
        "deed": {"name": "Prayer", "category_type": "hasanaat"},
        "items": [{"name": "Fajr"}, {"name": "Sunnah", "parent": 0}, {"name": "Reading"}],
        "scale": {"name": "How", "values": ["late", "on time", "early"]},
    }), models.OnboardedDeed, 201)  # fmt: skip
    fajr, reading = deed["items"][0]["deed_item_id"], deed["items"][2]["deed_item_id"]
    early = deed["scale"]["values"][2]["scale_value_id"]
    bare = check(c.post("/onboarding", headers=me, json={
        "deed": {"name": "Anger", "category_type": "saiyyiaat"}, "items": [{"name": "Shouting"}]
    }), models.OnboardedDeed, 201)  # fmt: skip
    assert "scale" not in bare  # absent, as before: not null
    other = check(c.post("/deeds", headers=me, json={"name": "Charity",
                  "category_type": "hasanaat"}), models.Deed, 201)  # fmt: skip
    check(c.get("/deeds", headers=me), models.DeedSummary)
    item = check(c.post(f"/deeds/{other['deed_id']}/items", headers=me, json={"name": "Coins"}),
                 models.DeedItem, 201)  # fmt: skip
    check(c.patch(f"/items/{item['deed_item_id']}", headers=me, json={"is_active": False}),
          models.DeedItem)  # fmt: skip
    check(c.get(f"/deeds/{deed['deed_id']}/items", headers=me), models.DeedItem)
    check(c.post(f"/deeds/{other['deed_id']}/scales", headers=me,
                 json={"name": "Size", "values": ["small", "big"]}), models.Scale, 201)  # fmt: skip
    check(c.get(f"/deeds/{deed['deed_id']}/scales", headers=me), models.ScaleSummary)

    def put(item_id: int, day: str, status: int, **value: Any) -> Any:
        body = {"deed_item_id": item_id, "entry_date": day, **value}
        return check(c.put("/entries", headers=me, json=body), models.Entry, status)

    entry = put(reading, "2026-03-10", 201, count_value=2, notes="slow")
    assert put(reading, "2026-03-10", 200, count_value=3)["entry_id"] == entry["entry_id"]
    put(fajr, "2026-03-11", 201, scale_value_id=early)
    check(c.get("/entries", headers=me), models.Entry)
    check(c.get(f"/entries/{entry['entry_id']}", headers=me), models.Entry)
    check(c.patch(f"/entries/{entry['entry_id']}", headers=me, json={"count_value": 4.5}),
          models.Entry)  # fmt: skip

    friend = signup("omar")
    relation = check(c.post("/connections", headers=friend.headers, json={"email": email}),
                     models.Connection, 201)  # fmt: skip
    check(c.get("/connections", headers=me), models.Connection)
    rel = relation["relation_id"]
    check(c.post(f"/connections/{rel}/accept", headers=me), models.Connection)
    stranger = signup("zaid")
    asked = check(c.post("/connections", headers=stranger.headers, json={"email": email}),
                  models.Connection, 201)  # fmt: skip
    check(c.post(f"/connections/{asked['relation_id']}/reject", headers=me), models.Connection)
    grant = check(c.put(f"/connections/{rel}/permissions", headers=me,
                        json={"deed_item_id": reading, "permission_type": "write"}),
                  models.Permission)  # fmt: skip
    check(c.get("/permissions", headers=friend.headers), models.PermissionListed)
    check(c.get(f"/items/{reading}/access", headers=friend.headers), models.ItemAccess)
    check(c.get(f"/items/{fajr}/access", headers=friend.headers), models.ItemAccess)
    written = check(c.put("/entries", headers=friend.headers, json={
        "deed_item_id": reading, "entry_date": "2026-03-12", "count_value": 1}), models.Entry, 201)  # fmt: skip
    assert written["created_by_user_id"] == friend.user_id
    check(c.get("/entries", headers=friend.headers, params={"owner_id": reg["user"]["user_id"]}),
          models.Entry)  # fmt: skip
    check(c.delete(f"/permissions/{grant['permission_id']}", headers=me), models.Permission)

    merit = check(c.post("/merits", headers=me, json={
        "deed_id": deed["deed_id"], "name": "Steady", "start_date": "2026-03-01",
        "end_date": "2026-03-31", "items": [{"deed_item_id": reading, "target_value": 20},
        {"deed_item_id": fajr, "target_value": 2, "scale_value_id": early}]}), models.Merit, 201)  # fmt: skip
    target = check(c.post("/targets", headers=me, json={
        "name": "Any", "completion_type": "or", "start_date": "2026-03-01",
        "end_date": "2026-03-31", "items": [{"deed_item_id": reading, "target_value": 50}]}),
        models.Target, 201)  # fmt: skip
    # A goal counts the item now: the entry is recorded on the thread path, same answer.
    put(reading, "2026-03-13", 201, count_value=6)
    put(fajr, "2026-03-13", 201, scale_value_id=early)
    done = check(c.get(f"/merits/{merit['merit_id']}", headers=me), models.Merit)
    assert done["complete"] is False and done["items"][1]["complete"] is True
    check(c.get(f"/targets/{target['target_id']}", headers=me), models.Target)
    check(c.post("/progress/refresh", headers=me), models.ProgressCheck)

    day = {"reflection_date": "2026-03-14", "content": "calm"}
    note = check(c.post("/reflections", headers=me, json=day), models.Reflection, 201)
    check(c.patch(f"/reflections/{note['reflection_id']}", headers=me, json={"content": "ok"}),
          models.Reflection)  # fmt: skip
    check(c.get("/reflections", headers=me), models.Reflection)
    check(c.post("/messages", headers=me, json={"content": "hello", "subject": "hi"}),
          models.Message, 201)  # fmt: skip
    app.messages.reply(reg["user"]["user_id"], "welcome")
    assert {m["sender"] for m in check(c.get("/messages", headers=me), models.Message)} == {
        "user", "support"}  # fmt: skip
    check(c.put("/reminder", headers=me, json={"time": "07:30"}), models.Notification)

    board = check(c.get("/dashboard", headers=me), models.Dashboard)
    assert board["until"] == "2026-03-15" and board["totals"]["hasanaat"]["entries"] == 5
    assert c.delete(f"/entries/{entry['entry_id']}", headers=me).status_code == 204
    history = check(c.get(f"/entries/{entry['entry_id']}/history", headers=me),
                    models.EntryVersion)  # fmt: skip
    assert [v["op"] for v in history] == ["insert", "update", "update", "delete"]
    events = check(c.get("/audit", headers=me), models.AuditEvent)
    assert {e["op"] for e in events} == {"insert", "update", "delete"}

    documented = {
        f"{method.upper()} {path}"
        for path, operations in check.spec["paths"].items()
        for method, operation in operations.items()
        if any(code.startswith("2") and code != "204" for code in operation["responses"])
    }
    assert documented == check.seen  # every typed route was exercised here


def test_refusals_are_documented_with_their_body(client: TestClient) -> None:
    """Every route of the routers documents 401/403/404/409 with the body the API really
    sends for them ({"error", "detail"}), and a real refusal matches that schema."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    problem = {"$ref": REF + "Problem"}
    for path, operations in spec["paths"].items():
        if path == "/health":
            continue
        for method, operation in operations.items():
            for code in ("401", "403", "404", "409"):
                content = operation["responses"][code]["content"]
                assert content["application/json"]["schema"] == problem, (method, path, code)
    refused = client.get("/me")
    assert refused.status_code == 401
    conforms(refused.json(), problem, schemas, "GET /me 401")
