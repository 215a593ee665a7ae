"""GraphiQL works in a real browser with no network at all, against the real API.

The real app (`api.app.create_app`) on the test store, loaded with the invented trail of
tests/data/api, is served by uvicorn on 127.0.0.1: the page, the vendored assets and /graphql
behind its bearer token. Debian's headless Chromium, driven by playwright, cannot resolve any host
but 127.0.0.1. The test types a query, runs it and reads a real session from the result pane, and
checks that no request left loopback and that the console stayed clean.

Needs ``/usr/bin/chromium`` (apt: chromium) and the ``playwright`` package (never
``playwright install``: the system Chromium is used). Skips without them, fails under CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import create_app
from api.settings import ApiSettings
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import load

pytestmark = [pytest.mark.browser, pytest.mark.clickhouse]

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "e2e-test-token-3f9a"  # a fake token for the test server only
SCREENSHOT = Path(os.environ.get("GRAPHIQL_SCREENSHOT", "/tmp/graphiql.png"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every host but loopback is unresolvable: a CDN load would fail (and be recorded).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# The trail's day holds seven sessions, newest first: the Build session (1 call), then Jump (2).
TYPED_QUERY = (
    '{ sessions(first: 2, from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z") '
    "{ edges { node { accessKeyId roleArn apiCallCount origin { kind } chainGap { roleArn } } } } }"
)


def _require_browser() -> None:
    """Skip when the browser stack is missing here; in CI (``CI`` set) that is a failure."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package is missing (pip install playwright)")
    if missing:
        reason = "browser test needs: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must provide them")
        pytest.skip(reason)


# --- the real app on the test store, with a recorder in front of it --------------------------------


@dataclass
class Seen:
    """What reached the app: GraphQL queries and response statuses."""

    queries: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


class Recorder:
    """Passes every request to the app unchanged; notes GraphQL query texts and response statuses."""

    def __init__(self, app: ASGIApp, seen: Seen) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body") and body:
                    self.seen.queries.append(str(json.loads(body).get("query", "")))
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.statuses.append(int(message["status"]))
            await send(message)

        await self.app(scope, recording_receive, recording_send)


@dataclass
class LiveServer:
    base_url: str
    seen: Seen


@pytest.fixture
def live_server(store: Store, loader: Loader) -> Iterator[LiveServer]:
    """The real app (create_app) on the test store holding the invented trail of tests/data/api,
    served by uvicorn on a free loopback port, in a thread; stopped (and joined) at the end."""
    load(loader, trail.paths())
    seen = Seen()
    app = Recorder(create_app(ApiSettings(), store, (TOKEN,)), seen)
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only then (else every response waits
    # for a delayed ACK, ~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", seen=seen)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_graphiql_runs_a_query_offline(live_server: LiveServer) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    failed: list[str] = []
    console_errors: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.set_default_timeout(20_000)
            context.on("request", lambda r: requests.append(r.url))
            context.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page = context.new_page()
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(f"page error: {e}"))

            page.goto(f"{live_server.base_url}/graphiql#token={TOKEN}", wait_until="load")

            # The token left the address bar, was saved and shows in the header bar's field.
            page.wait_for_selector(".graphiql-query-editor .CodeMirror")
            assert "#" not in page.url
            assert "token" not in page.url
            assert page.input_value("#rt-token") == TOKEN
            assert page.evaluate("localStorage.getItem('roletrail:token')") == TOKEN
            editor_text = page.inner_text(".graphiql-query-editor .CodeMirror-code")
            assert "sessions(first: 5)" in editor_text  # the default query

            # Replace the editor's text with our query and run it with the run button.
            page.click(".graphiql-query-editor .CodeMirror-code")
            page.keyboard.press("Control+A")
            page.keyboard.press("Delete")
            page.keyboard.insert_text(TYPED_QUERY)
            page.click("button.graphiql-execute-button")

            result = page.locator(".graphiql-response .CodeMirror-code")
            result.get_by_text(trail.KEY_GAP_CHILD).wait_for()
            text = result.inner_text()
            # A real session from the store: the Build session, its one call, its chain's gap at Jump.
            assert trail.BUILD_ARN in text
            assert '"apiCallCount": 1' in text
            assert f'"roleArn": "{trail.JUMP_ARN}"' in text
            assert trail.KEY_GAP_PARENT in text
            assert trail.KEY_EC2 not in text  # first: 2 was what ran
            assert '"errors"' not in text

            page.screenshot(path=str(SCREENSHOT))

            # Without a fragment the token comes back from localStorage.
            page.goto(f"{live_server.base_url}/graphiql", wait_until="load")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror")
            assert page.input_value("#rt-token") == TOKEN
        finally:
            browser.close()

    assert any("sessions(first: 2" in q for q in live_server.seen.queries), live_server.seen.queries
    assert live_server.seen.statuses, "no GraphQL request reached the app"
    assert set(live_server.seen.statuses) == {200}, live_server.seen.statuses
    assert not console_errors, console_errors
    assert not failed, failed
    assert requests, "the browser made no request at all"
    off_loopback = [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert not off_loopback, off_loopback
    # The page really used the vendored files, not a CDN.
    for asset in (
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ):
        assert f"{live_server.base_url}/static/graphiql/{asset}" in requests, asset
