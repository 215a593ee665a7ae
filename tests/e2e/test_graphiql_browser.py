"""GraphiQL works in a real browser with no network at all.

A real uvicorn server on 127.0.0.1 serves the page, the vendored assets and a tiny GraphQL
endpoint that wants a bearer token; Debian's headless Chromium, driven by playwright, cannot
resolve any host but 127.0.0.1. The test types a query, runs it and reads the result pane, and
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
from typing import Any
from urllib.parse import urlsplit

import pytest
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.graphiql import STATIC_DIR, graphiql_page

pytestmark = pytest.mark.browser

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
TYPED_QUERY = "{ sessions(first: 2) { edges { node { accessKeyId roleArn apiCallCount } } } }"
ACCESS_KEY = "ASIAE2ETESTKEY000001"
ROLE_ARN = "arn:aws:iam::123456789012:role/e2e-investigator"


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


# --- a minimal app: the real page and assets, a tiny schema behind a bearer token -------------


@strawberry.type
class SessionNode:
    access_key_id: str
    role_arn: str
    api_call_count: int


@strawberry.type
class SessionEdge:
    node: SessionNode


@strawberry.type
class SessionConnection:
    edges: list[SessionEdge]


@dataclass
class Seen:
    """What the test server received."""

    queries: list[str] = field(default_factory=list)
    unauthorized: int = 0


@strawberry.type
class Query:
    @strawberry.field
    def sessions(self, info: strawberry.Info, first: int = 10) -> SessionConnection:
        nodes = [
            SessionNode(access_key_id=ACCESS_KEY, role_arn=ROLE_ARN, api_call_count=42),
            SessionNode(access_key_id="ASIAE2ETESTKEY000002", role_arn=ROLE_ARN, api_call_count=7),
            SessionNode(access_key_id="ASIAE2ETESTKEY000003", role_arn=ROLE_ARN, api_call_count=1),
        ]
        return SessionConnection(edges=[SessionEdge(node=n) for n in nodes[:first]])


class BearerOnly:
    """401 unless ``Authorization: Bearer <token>``; records the queries it lets through."""

    def __init__(self, app: ASGIApp, token: str, seen: Seen) -> None:
        self.app, self.token, self.seen = app, token, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if Headers(scope=scope).get("authorization") != f"Bearer {self.token}":
                self.seen.unauthorized += 1
                response = JSONResponse({"errors": [{"message": "unauthorized"}]}, status_code=401)
                await response(scope, receive, send)
                return
            receive = self._recording(receive)
        await self.app(scope, receive, send)

    def _recording(self, receive: Receive) -> Receive:
        body = bytearray()

        async def wrapped() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body") and body:
                    self.seen.queries.append(str(json.loads(body).get("query", "")))
            return message

        return wrapped


def build_test_app(seen: Seen) -> Starlette:
    schema = strawberry.Schema(query=Query)
    graphql = BearerOnly(GraphQL(schema, graphql_ide=None), TOKEN, seen)
    return Starlette(
        routes=[
            Route("/graphiql", graphiql_page, name="graphiql"),
            Route("/graphql", graphql, name="graphql", methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )


@dataclass
class LiveServer:
    base_url: str
    seen: Seen


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """uvicorn on a free loopback port, in a thread; stopped (and joined) at the end."""
    # When api.app.create_app exists, this fixture is where the real app will be plugged in.
    seen = Seen()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_test_app(seen), log_level="warning", access_log=False, lifespan="off", ws="none", http="h11"
    )
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
            result.get_by_text(ACCESS_KEY).wait_for()
            text = result.inner_text()
            assert ROLE_ARN in text
            assert '"apiCallCount": 42' in text
            assert "ASIAE2ETESTKEY000002" in text
            assert "ASIAE2ETESTKEY000003" not in text  # first: 2 was what ran

            page.screenshot(path=str(SCREENSHOT))

            # Without a fragment the token comes back from localStorage.
            page.goto(f"{live_server.base_url}/graphiql", wait_until="load")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror")
            assert page.input_value("#rt-token") == TOKEN
        finally:
            browser.close()

    assert any("sessions(first: 2)" in q for q in live_server.seen.queries), live_server.seen.queries
    assert live_server.seen.unauthorized == 0
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
