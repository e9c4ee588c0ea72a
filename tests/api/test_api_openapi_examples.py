"""Every operation in the OpenAPI spec shows an example, so a reader can copy a real call.

An operation counts as documented with an example when a parameter, its request
body or one of its 2xx answers carries one (directly or in the schema it uses).
A new route without any fails here, naming it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

METHODS = {"get", "post", "put", "patch", "delete"}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    found: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return dict(found)


def _schema_has_example(spec: dict[str, Any], schema: Any, seen: set[str]) -> bool:
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return False
        seen.add(ref)
        schema = _resolve(spec, schema)
    if schema.get("example") is not None or schema.get("examples"):
        return True
    nested: list[Any] = list(schema.get("properties", {}).values())
    nested += [schema.get("items"), schema.get("additionalProperties")]
    for key in ("allOf", "anyOf", "oneOf"):
        nested += schema.get(key, [])
    return any(_schema_has_example(spec, part, seen) for part in nested)


def _answer_has_example(spec: dict[str, Any], answer: dict[str, Any]) -> bool:
    """An answer's body, or one of its headers (a 204's only content), shows an example."""
    headers = answer.get("headers", {}).values()
    return _content_has_example(spec, answer.get("content", {})) or any(
        header.get("example") is not None or header.get("examples") for header in headers
    )


def _content_has_example(spec: dict[str, Any], content: dict[str, Any]) -> bool:
    return any(
        media.get("example") is not None
        or media.get("examples")
        or _schema_has_example(spec, media.get("schema"), set())
        for media in content.values()
    )


def has_example(spec: dict[str, Any], operation: dict[str, Any]) -> bool:
    for parameter in operation.get("parameters", []):
        parameter = _resolve(spec, parameter)
        if parameter.get("example") is not None or parameter.get("examples"):
            return True
        if _schema_has_example(spec, parameter.get("schema"), set()):
            return True
    body = operation.get("requestBody")
    if body and _content_has_example(spec, _resolve(spec, body).get("content", {})):
        return True
    return any(
        _answer_has_example(spec, _resolve(spec, answer))
        for status, answer in operation.get("responses", {}).items()
        if status.startswith("2")
    )


def operations_without_example(spec: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and not has_example(spec, operation)
    ]


def test_every_operation_has_an_example(app: FastAPI) -> None:
    spec = app.openapi()
    assert len(spec["paths"]) > 20
    assert operations_without_example(spec) == []


def test_an_operation_without_any_example_is_named() -> None:
    """The check itself: a bare operation fails it, an example path parameter passes it."""
    bare = {"responses": {"204": {"description": "Gone"}}}
    with_parameter = {
        "parameters": [{"name": "id", "in": "path", "schema": {"type": "integer"}, "example": 7}],
        "responses": {"204": {"description": "Gone"}},
    }
    with_answer = {
        "responses": {
            "200": {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ok"}}}
            }
        }
    }
    spec = {
        "paths": {
            "/a": {"delete": bare},
            "/b/{id}": {"delete": with_parameter},
            "/c": {"get": with_answer},
        },
        "components": {
            "schemas": {
                "Ok": {
                    "type": "object",
                    "properties": {"ok": {"type": "boolean", "examples": [True]}},
                }
            }
        },
    }
    assert operations_without_example(spec) == ["DELETE /a"]
