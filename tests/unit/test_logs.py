"""Log lines: one per record, and nothing a client sends can start a line of its own."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from server.logs import JsonFormatter, configure, request_id


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """``configure`` rewires the root logger; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "hotline.access", "levelname": "INFO", "msg": "request"}
    )
    record.__dict__.update(extra)
    return record


def _text_formatter() -> logging.Formatter:
    configure(fmt="text")
    formatter = logging.getLogger().handlers[0].formatter
    assert formatter is not None
    return formatter


def test_a_path_with_a_line_break_stays_on_one_escaped_line() -> None:
    forged = "/api/v1/\n2026-11-21 INFO hotline.access: request status=200"

    line = _text_formatter().format(_record(path=forged, status=404))

    assert "\n" not in line  # no real line break: the forged line cannot stand alone
    assert 'path="/api/v1/\\n2026' in line  # the break is written as an escape
    assert line.endswith("status=404")


def test_the_request_id_keeps_both_brackets() -> None:
    formatter = _text_formatter()
    token = request_id.set("abc123")
    try:
        record = _record()
        for log_filter in logging.getLogger().handlers[0].filters:
            log_filter.filter(record)  # type: ignore[union-attr]
        line = formatter.format(record)
    finally:
        request_id.reset(token)

    assert line.endswith("request [abc123]")


def test_json_lines_carry_the_extras_as_fields() -> None:
    entry = json.loads(JsonFormatter().format(_record(path="/a\nb", status=401)))

    assert entry["path"] == "/a\nb"
    assert entry["status"] == 401
    assert entry["message"] == "request"
