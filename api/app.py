"""The Starlette application: /graphql (with persisted queries), GraphiQL, health, the export and
the admin ingest endpoints.

Tokens have a scope (see api.permissions): `read` may use /graphql and /export, `admin` also
/admin/. The audit logger ("roletrail.audit") gets one line per authenticated or refused request:
token name (never the token), method, path, GraphQL operation name, status and request id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.context import Context
from api.export import export_endpoint
from api.graphiql import STATIC_DIR, graphiql_page
from api.loaders import Loaders
from api.metrics import metrics_endpoint
from api.permissions import ADMIN, TokenCheck
from api.persisted import PersistedQueries, QueryCache
from api.schema import build_schema
from api.settings import ApiSettings
from clickhouse.client import Store
from clickhouse.errors import StorageError

log = logging.getLogger(__name__)
audit = logging.getLogger("roletrail.audit")

# Submits an ingest job for paths and returns its id; the CLI provides it (it owns the queue).
Enqueue = Callable[[list[str], str], str]
PUBLIC_PATHS = ("/health", "/graphiql", "/static/")
ADMIN_PATHS = ("/admin/",)
REQUEST_ID_HEADER = "X-Request-Id"


class BearerAuth:
    """401 for every request but the public pages unless it carries a valid bearer token; 403 when
    the token's scope does not cover the path. Writes the audit line of every request it admits or
    refuses."""

    def __init__(self, app: ASGIApp, check: TokenCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PATHS) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["request_id"] = uuid.uuid4().hex[:12]
        headers = dict(scope["headers"])
        token = self.check.token_of(headers.get(b"authorization", b"").decode("latin-1") or None)
        status = 500
        try:
            if token is None:
                status = 401
                response = JSONResponse(
                    {"error": "missing or invalid bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            if scope["path"].startswith(ADMIN_PATHS) and not token.allows(ADMIN):
                status = 403
                message = (
                    f"token {token.name!r} has scope {token.scope!r}; this endpoint needs an admin token"
                )
                await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
                return
            state["token_name"] = token.name
            state["token_scope"] = token.scope

            async def send_noting_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, send_noting_status)
        finally:
            audit.info(
                "request=%s token=%s scope=%s method=%s path=%s operation=%s status=%s",
                state["request_id"],
                token.name if token else "-",
                token.scope if token else "-",
                scope["method"],
                scope["path"],
                state.get("graphql_operation", "-"),
                status,
            )


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, settings: ApiSettings, store: Store) -> None:
        super().__init__(build_schema(settings), graphql_ide=None)
        self.settings = settings
        self.store = store

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.scope.get("state", {})
        # BearerAuth names the request (and logs it in the audit log under that id).
        request_id = state.get("request_id") or uuid.uuid4().hex[:12]
        token = state.get("token_name", "")
        if isinstance(response, Response):
            # The id that masked errors carry and the server log names: also on every response.
            response.headers[REQUEST_ID_HEADER] = request_id
        return Context(self.settings, self.store, Loaders.create(self.store), token, request_id)


def _allowed(path: str, roots: tuple[Path, ...]) -> bool:
    resolved = Path(path).resolve()
    return any(resolved == root.resolve() or resolved.is_relative_to(root.resolve()) for root in roots)


def create_app(
    settings: ApiSettings,
    store: Store,
    tokens: tuple[str, ...],
    *,
    enqueue: Enqueue | None = None,
    source_roots: tuple[Path, ...] = (),
    job_status: Callable[[Store, str], Any] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the app on an open store. Ingest endpoints answer only when `enqueue` is given."""

    async def health(request: Request) -> Response:
        try:
            ok = await run_in_threadpool(store.scalar, "SELECT 1")
        except StorageError:
            log.warning("health check: the store does not answer", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok" if ok == 1 else "degraded"})

    async def ingest(request: Request) -> Response:
        if enqueue is None:
            return JSONResponse({"error": "this server does not run ingest workers"}, status_code=503)
        try:
            body = await request.json()
        except ValueError:
            body = None
        paths = body.get("paths") if isinstance(body, dict) else None
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            return JSONResponse({"error": 'body must be {"paths": ["..."]}'}, status_code=400)
        if not source_roots:
            message = "no source roots configured: set ROLETRAIL_SOURCE_ROOTS to the folders the API may read"
            return JSONResponse({"error": message}, status_code=403)
        refused = [p for p in paths if not _allowed(p, source_roots)]
        if refused:
            return JSONResponse(
                {"error": f"outside the allowed source roots: {', '.join(refused)}"}, status_code=403
            )
        token = request.scope.get("state", {}).get("token_name", "")
        job_id = await run_in_threadpool(enqueue, [str(Path(p).resolve()) for p in paths], token)
        audit.info("ingest job=%s token=%s paths=%s", job_id, token, paths)
        return JSONResponse({"job_id": job_id}, status_code=202)

    async def job(request: Request) -> Response:
        if job_status is None:
            return JSONResponse({"error": "jobs are not available"}, status_code=503)
        status = await run_in_threadpool(job_status, store, request.path_params["job_id"])
        if status is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(status.as_dict())

    middleware = [Middleware(BearerAuth, check=TokenCheck(tokens))]
    if settings.cors_origins:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            ),
        )
    graphql = PersistedQueries(GraphQLApp(settings, store), QueryCache(settings.persisted_query_cache_size))
    routes = [
        Route("/health", health),
        Route("/graphql", graphql, methods=["GET", "POST"], name="graphql"),
        Route("/export/sessions/{access_key_id}/calls", export_endpoint(settings, store), methods=["GET"]),
        Route("/graphiql", graphiql_page, name="graphiql"),
        Route("/admin/ingest", ingest, methods=["POST"]),
        Route("/admin/jobs/{job_id}", job),
        # Any valid token (read scope is enough): see api.metrics.
        Route("/metrics", metrics_endpoint(store), methods=["GET"]),
        *extra_routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware)
