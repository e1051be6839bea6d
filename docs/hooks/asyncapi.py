"""An mkdocs hook: the WebSocket reference, checked against the protocol's own models.

The server describes its WebSocket protocol in an AsyncAPI document (``GET /asyncapi.json``),
built from the Pydantic models of ``client/protocol/messages.py``. This hook builds the same
document and

- adds it to the site as ``reference/asyncapi.json``;
- in docs/reference/websocket.md, replaces each ``<!-- fields: hello -->`` with the table of
  that message's fields, and stops the build if a message has no such marker, a marker
  names no message, or a message or field has no description;
- on any page, replaces ``<!-- close-codes -->`` with the table of close codes.

The prose and the examples stay hand-written; the facts come from the code.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from client.protocol.messages import CLOSE_CODE_MEANINGS
from server.api.asyncapi import asyncapi_document

PAGE = "reference/websocket.md"
FIELDS = re.compile(r"<!-- fields: ([a-z_]+) -->")
CLOSE_CODES = "<!-- close-codes -->"
REST_PAGE = "rest.md"  # where the REST reference describes the shared schemas

_document: dict[str, Any] = {}
_schemas: dict[str, Any] = {}
_messages: dict[str, str] = {}  # message type -> the name of its schema


def on_pre_build(config: MkDocsConfig) -> None:
    """Build the AsyncAPI document, exactly as the server does."""
    _document.clear()
    _document.update(asyncapi_document())
    _schemas.clear()
    _schemas.update(_document["components"]["schemas"])
    _messages.clear()
    for name, message in _document["components"]["messages"].items():
        _messages[name] = message["payload"]["$ref"].rsplit("/", 1)[-1]


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Publish the AsyncAPI document beside the page, as the REST page has openapi.json."""
    text = json.dumps(_document, indent=2, ensure_ascii=False) + "\n"
    files.append(File.generated(config, "reference/asyncapi.json", content=text))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill in the field tables and the close codes; fail on any hole."""
    markdown = markdown.replace(CLOSE_CODES, _close_codes())
    if page.file.src_uri != PAGE:
        return markdown
    marked = FIELDS.findall(markdown)
    problems = [f"no `<!-- fields: {name} -->`" for name in _messages if name not in marked]
    problems += [f"`{name}` is not a message" for name in marked if name not in _messages]
    for model in _messages.values():
        schema = _schemas[model]
        if not schema.get("description"):
            problems.append(f"{model} has no docstring")
        for field, spec in schema["properties"].items():
            if field != "type" and not spec.get("description"):
                problems.append(f"{model}.{field} has no description")
    if problems:
        raise PluginError(f"{PAGE} does not match the protocol:\n  " + "\n  ".join(problems))
    return FIELDS.sub(lambda match: _fields(match.group(1)), markdown)


def _fields(name: str) -> str:
    schema = _schemas[_messages[name]]
    lines = ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    # The tag first, then the fields in the order the model declares them.
    for field, spec in sorted(schema["properties"].items(), key=lambda item: item[0] != "type"):
        if field == "type":  # the tag: always required on the wire, and its value says it all
            lines.append(f'| `type` | `"{spec["const"]}"` | yes | The kind of message. |')
            continue
        required = "yes" if field in schema.get("required", []) else "no"
        text = " ".join(spec["description"].split()).replace("|", "\\|")
        if "default" in spec and spec["default"] is not None:
            text += f" Default `{json.dumps(spec['default'])}`."
        lines.append(f"| `{field}` | {_type(spec)} | {required} | {text} |")
    return "\n".join(lines)


def _type(spec: dict[str, Any]) -> str:
    """A field's schema in a few words; shared schemas link to the REST reference."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}]({REST_PAGE}#schema-{name.lower()})"
    if "anyOf" in spec:
        return " or ".join(_type(option) for option in spec["anyOf"])
    kind = spec.get("type")
    if kind == "array":
        return f"array of {_type(spec['items'])}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"object: string → {_type(spec['additionalProperties'])}"
    text = str(spec.get("format", kind or "any JSON"))
    if "maxLength" in spec:
        low = f"{spec['minLength']} to" if "minLength" in spec else "at most"
        text += f", {low} {spec['maxLength']} characters"
    if "maximum" in spec:
        text += f", {spec.get('minimum', 0)} to {spec['maximum']}"
    return text


def _close_codes() -> str:
    lines = ["| close code | name | meaning |", "| --- | --- | --- |"]
    lines += [
        f"| `{code.value}` | {code.name.lower().replace('_', ' ')} | {meaning} |"
        for code, meaning in CLOSE_CODE_MEANINGS.items()
    ]
    return "\n".join(lines)
