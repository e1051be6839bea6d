"""An mkdocs hook: the REST reference, written from the API's own OpenAPI document.

Before each build the hook asks the FastAPI app for its OpenAPI document (building the app
opens no database connection) and saves it as docs/reference/openapi.json. When mkdocs
reads docs/reference/rest.md, the hook puts the operations, grouped by tag, and the
schemas where the page says ``<!-- openapi -->``.

An operation without a summary, or a parameter, schema or field without a description,
stops the build: CI runs ``mkdocs build --strict``, so the reference can have no holes.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from server.app import create_app
from server.config import Settings

PAGE = "reference/rest.md"
MARKER = "<!-- openapi -->"
METHODS = ("get", "put", "post", "patch", "delete")
PARAMETERS_HEADER = "| name | in | type | required | description |"

_document: dict[str, Any] = {}


def on_pre_build(config: MkDocsConfig) -> None:
    """Build the OpenAPI document, check it, and save it beside the page."""
    # Throwaway keys: building the docs must not leave a secret behind.
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url="sqlite:///:memory:",
            log_key_file=Path(scratch, "log.key"),
            secrets_key_file=Path(scratch, "secrets.key"),
            attachments_dir=Path(scratch, "attachments"),
        )
        document = create_app(settings).openapi()
    holes = list(_holes(document))
    if holes:
        raise PluginError("the OpenAPI document is incomplete:\n  " + "\n  ".join(holes))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    target = Path(config.docs_dir, "reference", "openapi.json")
    # Write only on change: `mkdocs serve` rebuilds whenever a file in docs/ changes.
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    _document.clear()
    _document.update(document)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Put the generated reference into the REST page."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} must contain {MARKER} where the reference goes")
    return markdown.replace(MARKER, render(_document))


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    ]


def _holes(document: dict[str, Any]) -> Iterator[str]:
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        if not operation.get("summary"):
            yield f"{where}: no summary"
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                yield f"{where}: parameter {parameter['name']} has no description"
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if not schema.get("description"):
            yield f"schema {name}: no description"
        for field, spec in schema.get("properties", {}).items():
            if not spec.get("description"):
                yield f"schema {name}: field {field} has no description"


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _cell(text: str) -> str:
    """Text that is safe inside one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words, with links to named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema:
        return " or ".join(_type(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema['items'])}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        keys = _type(schema["propertyNames"]) if "propertyNames" in schema else "string"
        return f"object: {keys} → {_type(schema['additionalProperties'])}"
    if kind is None:
        return "any JSON"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _number(value: float) -> str:
    """A bound as people write it: FastAPI's document spells whole bounds as floats (``1.0``)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _limits(schema: dict[str, Any]) -> str:
    """Constraints and default of a field or parameter, as a short phrase."""
    found: list[str] = []
    for part in [schema, *schema.get("anyOf", [])]:
        low, high = part.get("minLength"), part.get("maxLength")
        if low is not None and high is not None:
            found.append(f"{low} to {high} characters")
        elif high is not None:
            found.append(f"at most {high} characters")
        elif low is not None:
            found.append(f"at least {low} characters")
        if "minimum" in part:
            found.append(f"≥ {_number(part['minimum'])}")
        if "maximum" in part:
            found.append(f"≤ {_number(part['maximum'])}")
        if "pattern" in part:
            found.append(f"matches `{part['pattern']}`")
    if "default" in schema:
        found.append(f"default `{json.dumps(schema['default'])}`")
    return f" ({'; '.join(found)})" if found else ""


def _named(reference: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The named schema a body refers to, directly or as ``X or null``."""
    for option in [reference, *reference.get("anyOf", [])]:
        if "$ref" in option:
            named: dict[str, Any] = schemas[option["$ref"].rsplit("/", 1)[-1]]
            return named
    return reference


def _operation(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> list[str]:
    lines = [f"### {operation['summary']}", "", f"`{method.upper()} {path}`", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    auth = "a bearer token" if operation.get("security") else "none"
    lines += [f"**Authentication:** {auth}", ""]
    if operation.get("parameters"):
        lines += ["**Parameters**", "", PARAMETERS_HEADER, "| --- | --- | --- | --- | --- |"]
        for p in operation["parameters"]:
            required = "yes" if p.get("required") else "no"
            text = _cell(p["description"] + _limits(p["schema"]))
            lines.append(
                f"| `{p['name']}` | {p['in']} | {_type(p['schema'])} | {required} | {text} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        for media, content in body["content"].items():
            required = "required" if body.get("required") else "optional"
            lines += [f"**Request body** (`{media}`, {required}): {_type(content['schema'])}", ""]
            for example in _named(content["schema"], schemas).get("examples", []):
                lines += ["```json", json.dumps(example, indent=2, ensure_ascii=False), "```", ""]
    lines += ["**Responses**", "", "| status | meaning | body |", "| --- | --- | --- |"]
    for status, response in operation["responses"].items():
        shapes = [
            f"{_type(c['schema'])} (`{m}`)" if c.get("schema") else f"`{m}`"
            for m, c in response.get("content", {}).items()
        ]
        lines.append(
            f"| {status} | {_cell(response['description'])} | {', '.join(shapes) or '—'} |"
        )
    return [*lines, ""]


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#{_anchor(name)}}}", "", schema["description"].strip(), ""]
    if "properties" not in schema:
        return [*lines, f"Type: {_type(schema)}.", ""]
    lines += ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    for field, spec in schema["properties"].items():
        required = "yes" if field in schema.get("required", []) else "no"
        text = _cell(spec["description"] + _limits(spec))
        lines.append(f"| `{field}` | {_type(spec)} | {required} | {text} |")
    return [*lines, ""]


def render(document: dict[str, Any]) -> str:
    """The reference, as Markdown: operations by tag, then every schema."""
    # Tags in the order the document declares them, if it does; else as they first appear.
    declared = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {name: [] for name in declared}
    for path, method, operation in _operations(document):
        by_tag.setdefault(operation.get("tags", ["other"])[0], []).append((path, method, operation))
    info = document["info"]
    lines = [f"API version `{info['version']}`, OpenAPI `{document['openapi']}`.", ""]
    schemas = document.get("components", {}).get("schemas", {})
    for tag, operations in by_tag.items():
        if not operations:
            continue
        lines += [f"## {tag.capitalize()}", "", declared.get(tag, ""), ""]
        for path, method, operation in operations:
            lines += _operation(path, method, operation, schemas)
    calls = [
        (name, method, operation)
        for name, operations in document.get("webhooks", {}).items()
        for method, operation in operations.items()
        if method in METHODS
    ]
    if calls:
        lines += [
            "## Webhook calls",
            "",
            "What the server sends to each webhook subscription's URL, signed as [Standard "
            "Webhooks](https://www.standardwebhooks.com/) say (see [Receive webhooks]"
            "(../how-to/receive-webhooks.md)).",
            "",
        ]
        for name, method, operation in calls:
            lines += _operation(f"<the subscription's url> ({name})", method, operation, schemas)
    lines += ["## Schemas", ""]
    for name, schema in schemas.items():
        lines += _schema(name, schema)
    return "\n".join(lines)
