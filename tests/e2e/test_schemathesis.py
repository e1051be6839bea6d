"""Schemathesis, with every check, over the demo server's OpenAPI document: no failure.

Schemathesis (a tool written by nobody here) reads ``/openapi.json`` and sends what it
describes, and what it does not: examples, boundary values, random data, and chains of
calls that follow one response into the next request. Its checks then ask whether the
server answered as the document says: no 5xx, only documented statuses, content types and
headers, responses that match their schemas, schema-valid requests accepted and invalid
ones refused, authentication not ignored, and more (``--checks all``).

The run is bounded and repeatable: deterministic generation, at most
``generation.max-examples`` cases per operation and phase, one request at a time
(``schemathesis.toml``). The few failures that are not the server's (refusals no schema
can express, a log that outlives what it logged) are listed, each with its reason, in
``schemathesis_hooks.py``; anything else fails the test, with schemathesis' report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import Launcher

ROOT = Path(__file__).parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
RUN_TIMEOUT = 900.0
"""Seconds the whole run may take: it takes about a minute on a 2-core machine."""

# The demo's operators whose tokens the run uses (schemathesis.toml says for what).
TOKENS = {
    "HOTLINE_ST_OPERATOR": "ana",
    "HOTLINE_ST_RECEIVER": "carla",
    "HOTLINE_ST_ADMIN": "wanda",
    "HOTLINE_ST_OTHER_ADMIN": "raj",
}


def test_schemathesis_finds_nothing_the_document_does_not_say(launch: Launcher) -> None:
    # Webhooks the run subscribes are called: only TEST-NET-1, where the hooks send them
    # (nobody routes it), may be, and a call gives up after a second.
    demo = launch.demo(
        env={
            "HOTLINE_WEBHOOK_ALLOW_NETWORKS": "192.0.2.0/24",
            "HOTLINE_WEBHOOK_TIMEOUT_SECONDS": "1",
        }
    )
    env = {
        **os.environ,
        **{variable: demo.tokens[operator] for variable, operator in TOKENS.items()},
    }

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{demo.url}/openapi.json",
            "--checks",
            "all",
            "--no-color",
        ],
        cwd=ROOT,  # where the hooks module is imported from
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )

    report = run.stdout + run.stderr
    if run.returncode != 0:
        pytest.fail(f"schemathesis exited with {run.returncode}:\n{report}", pytrace=False)
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected, report
    assert selected[1] == selected[2] == selected[3], f"not every operation was tested:\n{report}"
    listed = f"{demo.url}/api/v1/channels/{demo.channel}/webhooks"
    webhooks = httpx.get(listed, headers=demo.auth("wanda"), timeout=10)
    assert webhooks.status_code == 200, webhooks.text
    assert {urlsplit(hook["url"]).hostname for hook in webhooks.json()} <= {"192.0.2.1"}
