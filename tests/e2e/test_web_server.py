"""The real server process as a browser meets it: CORS, the SDK and console, the demo's links."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from server.service import demo
from tests.e2e.conftest import START_TIMEOUT, STOP_TIMEOUT, Demo, Launcher, clean_env

TIMEOUT = 10.0
"""Seconds any one HTTP request may take."""
PAGE = "http://console.example.test:3000"
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_the_demo_lets_a_page_on_any_origin_call_the_api(server: Demo) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        preflight = client.options(server.notices, headers=PREFLIGHT)
        me = client.get("/api/v1/me", headers={**server.auth("carla"), "Origin": PAGE})
        refused = client.get("/api/v1/me", headers={"Origin": PAGE})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert me.status_code == 200
    assert me.headers["access-control-allow-origin"] == "*"
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"


def test_serve_lets_no_page_call_the_api_but_any_page_import_the_sdk(launch: Launcher) -> None:
    _, url = launch.serve(launch.database_url)

    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        preflight = client.options("/api/v1/me", headers=PREFLIGHT)
        sdk = client.get("/sdk/hotline.js", headers={"Origin": PAGE})
        console = client.get("/")

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert sdk.status_code == 200
    assert sdk.headers["content-type"] == "text/javascript; charset=utf-8"
    assert sdk.headers["access-control-allow-origin"] == "*"
    assert console.status_code == 200
    assert console.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in console.headers["content-security-policy"]


def test_the_demo_json_gives_the_console_and_a_sign_in_link_for_each_operator(
    launch: Launcher,
) -> None:
    server = launch.start("demo", "--json", "--port", "0", "--database-url", launch.database_url)
    announced = json.loads(server.read_first_line())
    url = announced["url"]

    with httpx.Client(timeout=TIMEOUT) as client:
        console = client.get(announced["console_url"])
        me = client.get(
            f"{url}/api/v1/me",
            headers={"Authorization": f"Bearer {announced['operators'][0]['token']}"},
        )

    assert announced["console_url"] == f"{url}/"
    for operator in announced["operators"]:
        assert operator["console_link"] == f"{url}/#token={operator['token']}"
    assert console.status_code == 200
    assert "text/html" in console.headers["content-type"]
    assert me.status_code == 200


def test_the_demo_prints_its_table_and_links_below_the_servers_startup_lines(
    tmp_path: Path,
) -> None:
    """What a person runs: stdout and stderr in one stream, as a terminal shows them."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "demo", "--port", "0"],
        cwd=tmp_path,
        env=clean_env(COLUMNS="200"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        with process.stdout as stream:
            for line in stream:
                lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, name="demo-output", daemon=True)
    reader.start()
    screen: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (screen and screen[-1].startswith("Console: ")):
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, "the demo exited before it printed the console URL:\n" + (
                "\n".join(screen)
            )
            screen.append(line)
        console_url = screen[-1].split()[1]
        with httpx.Client(timeout=TIMEOUT) as client:
            page = client.get(console_url)
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(STOP_TIMEOUT)
        reader.join(STOP_TIMEOUT)

    logged = [json.loads(line)["message"] for line in screen if line.startswith("{")]
    title = next(i for i, line in enumerate(screen) if line.lstrip().startswith("Hotline demo on"))
    last_log = max(i for i, line in enumerate(screen) if line.startswith("{"))
    assert "Application startup complete." in logged
    assert last_log < title, "server log lines came after the table began"
    links = [line.split()[1] for line in screen[title:] if "/#token=hl_" in line]
    assert [link.split("#token=")[0] for link in links] == [console_url] * len(demo.OPERATORS)
    assert page.status_code == 200
    assert status == 0
