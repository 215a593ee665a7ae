"""GraphiQL served from vendored assets, so the IDE works on a machine with no network.

Strawberry's built-in GraphiQL page loads React and GraphiQL from a CDN and is blank offline.
This page loads the copies in ``api/static/graphiql/`` (see the README there) through the
``static`` mount, and lets the analyst supply the bearer token that ``/graphql`` requires:

* ``/graphiql#token=...`` puts the token in the page; it is then removed from the address bar;
* otherwise the token saved in this browser's localStorage is used;
* the token field in the header bar changes it (and saves it).

The app must mount ``Mount("/static", StaticFiles(directory=STATIC_DIR), name="static")``;
the GraphQL endpoint is found by the route name ``graphql`` when it has one, else it is
``/graphql`` under the app's root path.
"""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import NoMatchFound

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
"""The folder to mount at ``/static`` (name ``static``); GraphiQL's files are in its ``graphiql/``."""

GRAPHQL_ROUTE_NAME = "graphql"
GRAPHQL_PATH = "/graphql"
LOCAL_STORAGE_KEY = "roletrail:token"
DEFAULT_QUERY = """{
  sessions(first: 5) {
    edges {
      node {
        accessKeyId
        roleArn
        apiCallCount
      }
    }
  }
}
"""

# One small page. The script carries a per-request nonce so that a strict CSP can forbid every
# other script; no inline event handlers. Values reach the script as JSON in a data element.
_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>roletrail · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="$css">
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
  #rt-bar { display: flex; align-items: center; gap: .75rem; padding: .4rem .9rem;
            background: #0f172a; color: #e2e8f0; font-size: 14px; }
  #rt-bar strong { letter-spacing: .02em; }
  #rt-bar label { margin-left: auto; display: flex; align-items: center; gap: .4rem; }
  #rt-token { width: 22rem; max-width: 40vw; padding: .2rem .4rem; border-radius: 4px;
              border: 1px solid #475569; background: #1e293b; color: #e2e8f0; font: inherit; }
  #rt-status { min-width: 6rem; color: #94a3b8; }
  #graphiql { flex: 1; min-height: 0; }
</style>
</head>
<body>
<header id="rt-bar">
  <strong>roletrail</strong><span>GraphiQL</span>
  <label for="rt-token">Bearer token
    <input id="rt-token" type="password" autocomplete="off" spellcheck="false"
           placeholder="paste the API token">
  </label>
  <span id="rt-status" aria-live="polite"></span>
</header>
<div id="graphiql">Loading GraphiQL…</div>
<script type="application/json" id="rt-config">$config</script>
<script src="$react"></script>
<script src="$react_dom"></script>
<script src="$graphiql"></script>
<script nonce="$nonce">
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("rt-config").textContent);
  var input = document.getElementById("rt-token");
  var status = document.getElementById("rt-status");
  function load() { try { return localStorage.getItem(cfg.storageKey) || ""; } catch (e) { return ""; } }
  function save(t) {
    try {
      if (t) { localStorage.setItem(cfg.storageKey, t); } else { localStorage.removeItem(cfg.storageKey); }
    } catch (e) { /* storage may be disabled: the token then lives in this page only */ }
  }
  var token = load();
  var fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("token")) {
    token = fragment.get("token") || "";
    save(token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  input.value = token;
  function showStatus() { status.textContent = token ? "token set" : "no token"; }
  showStatus();

  function makeFetcher(bearer) {
    return function (params, opts) {
      var headers = { "Content-Type": "application/json", "Accept": "application/json" };
      if (bearer) { headers["Authorization"] = "Bearer " + bearer; }
      var extra = (opts && opts.headers) || {};
      Object.keys(extra).forEach(function (k) { headers[k] = extra[k]; });
      return fetch(cfg.endpoint, {
        method: "POST", headers: headers, body: JSON.stringify(params), credentials: "same-origin"
      }).then(function (resp) {
        return resp.text().then(function (text) {
          try { return JSON.parse(text); }
          catch (e) { return { errors: [{ message: "HTTP " + resp.status + ": " + text }] }; }
        });
      });
    };
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  function render() {
    root.render(React.createElement(GraphiQL, {
      fetcher: makeFetcher(token), defaultQuery: cfg.defaultQuery
    }));
  }
  input.addEventListener("change", function () {
    token = input.value.trim();
    save(token);
    showStatus();
    render();  // a new fetcher makes GraphiQL fetch the schema again with the new token
  });
  render();
})();
</script>
</body>
</html>
""")


def _graphql_url(request: Request) -> str:
    try:
        return request.url_for(GRAPHQL_ROUTE_NAME).path
    except NoMatchFound:
        return request.base_url.path.rstrip("/") + GRAPHQL_PATH


def _asset(request: Request, name: str) -> str:
    # The path alone: the Host header never reaches the page.
    return html.escape(request.url_for("static", path=f"graphiql/{name}").path)


async def graphiql_page(request: Request) -> HTMLResponse:
    """The GraphiQL IDE, with every script and style served by this app."""
    nonce = secrets.token_urlsafe(16)
    config = json.dumps(
        {"endpoint": _graphql_url(request), "defaultQuery": DEFAULT_QUERY, "storageKey": LOCAL_STORAGE_KEY}
    ).replace("<", "\\u003c")  # nothing in it can close the <script> element
    page = _PAGE.substitute(
        css=_asset(request, "graphiql.min.css"),
        react=_asset(request, "react.production.min.js"),
        react_dom=_asset(request, "react-dom.production.min.js"),
        graphiql=_asset(request, "graphiql.min.js"),
        config=config,
        nonce=nonce,
    )
    csp = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
