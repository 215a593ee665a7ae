"""The Starlette application: /graphql (with persisted queries), GraphiQL, health, the export and
the admin ingest endpoints.

Tokens have a scope (see api.permissions): `read` may use /graphql and /export, `admin` also
/admin/. The audit logger ("roletrail.audit") gets one line per authenticated or refused request:
token name (never the token), method, path, GraphQL operation name, status and request id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
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
from api.export import export_endpoint, principal_export_endpoint
from api.graphiql import STATIC_DIR, graphiql_page
from api.ingest_jobs import Enqueue, IngestRefused, IngestService, JobStatusReader
from api.loaders import Loaders
from api.metrics import metrics_endpoint
from api.permissions import ADMIN, TokenCheck, parse_tokens
from api.persisted import PersistedQueries, QueryCache
from api.schema import build_schema
from api.settings import ApiSettings
from api.token_store import ManagedTokens
from clickhouse.client import Store
from clickhouse.errors import StorageError

log = logging.getLogger(__name__)
audit = logging.getLogger("roletrail.audit")

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
        token = None
        status = 500
        try:
            try:
                # Off the event loop: managed tokens may be read from the store (api.token_store).
                token = await run_in_threadpool(
                    self.check.token_of, headers.get(b"authorization", b"").decode("latin-1") or None
                )
            except StorageError:
                log.warning("request=%s: cannot read managed API tokens", state["request_id"], exc_info=True)
                status = 503
                await JSONResponse({"error": "the token store is unavailable"}, status_code=503)(
                    scope, receive, send
                )
                return
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
            state["token_accounts"] = token.accounts

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
    def __init__(
        self,
        settings: ApiSettings,
        store: Store,
        ingest: IngestService | None = None,
        tokens: ManagedTokens | None = None,
    ) -> None:
        super().__init__(build_schema(settings), graphql_ide=None)
        self.settings = settings
        self.store = store
        self.ingest = ingest or IngestService()
        self.tokens = tokens

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.scope.get("state", {})
        # BearerAuth names the request (and logs it in the audit log under that id).
        request_id = state.get("request_id") or uuid.uuid4().hex[:12]
        token = state.get("token_name", "")
        if isinstance(response, Response):
            # The id that masked errors carry and the server log names: also on every response.
            response.headers[REQUEST_ID_HEADER] = request_id
        accounts = state.get("token_accounts")
        return Context(
            self.settings,
            self.store,
            Loaders.create(self.store, accounts),
            token,
            request_id,
            accounts=accounts,
            token_scope=state.get("token_scope", ""),
            ingest=self.ingest,
            tokens=self.tokens,
        )


def create_app(
    settings: ApiSettings,
    store: Store,
    tokens: tuple[str, ...],
    *,
    enqueue: Enqueue | None = None,
    source_roots: tuple[Path, ...] = (),
    job_status: JobStatusReader | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the app on an open store. Ingest endpoints answer only when `enqueue` is given."""
    ingest_service = IngestService(enqueue, source_roots, job_status)

    async def health(request: Request) -> Response:
        try:
            ok = await run_in_threadpool(store.scalar, "SELECT 1")
        except StorageError:
            log.warning("health check: the store does not answer", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok" if ok == 1 else "degraded"})

    async def ingest(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        paths = body.get("paths") if isinstance(body, dict) else None
        token = request.scope.get("state", {}).get("token_name", "")
        try:
            job_id = await run_in_threadpool(ingest_service.submit, paths, token)
        except IngestRefused as refused:
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        return JSONResponse({"job_id": job_id}, status_code=202)

    async def job(request: Request) -> Response:
        try:
            status = await run_in_threadpool(ingest_service.status, store, request.path_params["job_id"])
        except IngestRefused as refused:
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        if status is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(status)

    managed = ManagedTokens(store, settings.token_cache_seconds, parse_tokens(tokens))
    middleware = [Middleware(BearerAuth, check=TokenCheck(tokens, managed))]
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
    graphql = PersistedQueries(
        GraphQLApp(settings, store, ingest_service, managed), QueryCache(settings.persisted_query_cache_size)
    )
    routes = [
        Route("/health", health),
        Route("/graphql", graphql, methods=["GET", "POST"], name="graphql"),
        Route("/export/sessions/{access_key_id}/calls", export_endpoint(settings, store), methods=["GET"]),
        Route(
            "/export/principals/{kind}/{identifier:path}/calls",
            principal_export_endpoint(settings, store),
            methods=["GET"],
        ),
        Route("/graphiql", graphiql_page, name="graphiql"),
        Route("/admin/ingest", ingest, methods=["POST"]),
        Route("/admin/jobs/{job_id}", job),
        # Any valid token (read scope is enough): see api.metrics.
        Route("/metrics", metrics_endpoint(store), methods=["GET"]),
        *extra_routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware)
