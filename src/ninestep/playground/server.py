"""The playground's web server: routes only; the work is in :mod:`.session`, :mod:`.views`, :mod:`.export`.

Built on Starlette (see docs/playground.md for why): :func:`create_app`
returns the ASGI app that ``ninestep playground`` serves with uvicorn and
that the tests drive with Starlette's TestClient.

The page polls: each ``POST /api/sessions/{id}/tick`` trains ``speed``
epochs (when playing) and answers with one compact JSON frame; the page asks
for the next frame once it has drawn this one. Training runs in Starlette's
thread pool, never on the event loop, so the server answers other tabs
while one trains, and it stops the moment its page stops asking.

Routes
------
GET  /                                  the page
GET  /static/...                        its ES modules and CSS
GET  /api/limits                        the limits and the choices, for the page
POST /api/sessions                      new session from settings -> {id, dataset, frame}
POST /api/sessions/{id}/settings        change settings -> {dataset, frame}   (400 + message if bad)
POST /api/sessions/{id}/tick            {"action": "play"|"step"|"none", "since": epochs, "version": run}
POST /api/sessions/{id}/reset           epoch 0, same seed -> {dataset, frame}
POST /api/sessions/{id}/csv?target=COL  the file as the body -> {dataset, frame} (400 + message if bad)
GET  /api/sessions/{id}/model.npz       the model file for ``ninestep predict``
GET  /api/sessions/{id}/data.csv        the rows, with a split column
GET  /api/sessions/{id}/export          {"command": ..., "python": ...}
POST /api/sessions/{id}/close           the page is closing (sent with navigator.sendBeacon)
"""

from __future__ import annotations

import asyncio
import json
import contextlib
import secrets
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import export, views
from .session import Session
from .settings import ACTIVATIONS, DATASETS, INITS, OPTIMIZERS, PRESETS, Limits, parse_settings

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


class _Error(Exception):
    """A request the page can explain to its user: the message and an HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


#: The largest JSON body a settings or tick request may have.
MAX_JSON_BYTES = 64 * 1024


def create_app(limits: Limits | None = None, allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI app, with its own table of sessions bounded by ``limits``.

    ``allowed_hosts``: the Host headers to answer (``ninestep playground``
    passes 127.0.0.1, localhost and ::1 when it listens on this machine
    only), so that a web page elsewhere cannot reach the server through a
    domain name that it points at 127.0.0.1 (DNS rebinding). None: any.
    """
    limits = limits or Limits()
    sessions: dict[str, Session] = {}

    def reap() -> None:
        """Drop sessions whose page has not asked for anything for ``idle_timeout_s``."""
        now = time.monotonic()
        for sid in [sid for sid, s in sessions.items() if now - s.last_seen > limits.idle_timeout_s]:
            sessions.pop(sid, None)

    def session_for(request: Request) -> Session:
        session = sessions.get(request.path_params["sid"])
        if session is None:
            raise _Error("this session has ended (its page was closed or idle for "
                         f"{limits.idle_timeout_s:g} s); reload the page to start a new one.", 404)
        return session

    async def body_json(request: Request) -> dict:
        # Settings and ticks are a few hundred bytes: a body is read up to a small bound, never whole.
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_JSON_BYTES:
                raise _Error(f"the request body is larger than {MAX_JSON_BYTES:,} bytes; settings are a small "
                             "JSON object.", 413)
        try:
            body = json.loads(bytes(raw) or b"{}")
        except ValueError:
            raise _Error("the request body must be a JSON object.") from None
        if not isinstance(body, dict):
            raise _Error("the request body must be a JSON object.")
        return body

    def both(session: Session) -> dict:
        frame = session.tick("none", 0)
        with session.lock:
            return {"dataset": views.dataset(session), "frame": frame}

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def get_limits(request: Request) -> Response:
        return JSONResponse({"limits": limits.as_dict(), "datasets": list(DATASETS), "optimizers": OPTIMIZERS,
                             "activations": ACTIVATIONS, "inits": INITS, "presets": list(PRESETS)})

    async def new_session(request: Request) -> Response:
        reap()
        if len(sessions) >= limits.max_sessions:
            raise _Error(f"{len(sessions)} sessions are open, the limit of this server; close another tab, or "
                         f"wait until an idle one ends ({limits.idle_timeout_s:g} s without a request).", 503)
        raw = await body_json(request)
        settings = parse_settings(raw, limits)
        session = await run_in_threadpool(Session, settings, limits)
        if len(sessions) >= limits.max_sessions:  # others may have opened while this one was built
            raise _Error(f"{len(sessions)} sessions are open, the limit of this server; close another tab.", 503)
        sid = secrets.token_urlsafe(12)
        sessions[sid] = session
        return JSONResponse({"id": sid, **await run_in_threadpool(both, session)})

    async def change_settings(request: Request) -> Response:
        session = session_for(request)
        raw = await body_json(request)
        await run_in_threadpool(session.configure, raw)
        return JSONResponse(await run_in_threadpool(both, session))

    async def tick(request: Request) -> Response:
        session = session_for(request)
        body = await body_json(request)
        since, version = body.get("since", 0), body.get("version")
        if not isinstance(since, int) or not isinstance(version, (int, type(None))):
            raise _Error(f"since and version must be whole numbers, got {since!r} and {version!r}.")
        frame = await run_in_threadpool(session.tick, str(body.get("action", "none")), since, version)
        return JSONResponse(frame)

    async def reset(request: Request) -> Response:
        session = session_for(request)
        await run_in_threadpool(session.reset)
        return JSONResponse(await run_in_threadpool(both, session))

    async def upload(request: Request) -> Response:
        session = session_for(request)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes:
            raise _Error(f"the file is {int(declared):,} bytes; the playground takes CSV files up to "
                         f"{limits.max_upload_bytes:,} bytes (train bigger ones with ninestep train).", 413)
        content = bytearray()
        async for chunk in request.stream():  # stop reading at the limit, whatever the header said
            content += chunk
            if len(content) > limits.max_upload_bytes:
                raise _Error(f"the file is larger than {limits.max_upload_bytes:,} bytes, the playground's "
                             "limit for CSV files (train bigger ones with ninestep train).", 413)
        await run_in_threadpool(session.upload_csv, bytes(content), request.query_params.get("target", ""))
        return JSONResponse(await run_in_threadpool(both, session))

    async def locked(session: Session, make):
        """``make(session)`` in the thread pool, holding the session's lock (never on the event loop)."""
        def call():
            with session.lock:
                return make(session)
        return await run_in_threadpool(call)

    async def model_file(request: Request) -> Response:
        session = session_for(request)
        content, name = await locked(session, lambda s: (
            export.model_bytes(s), f"playground-{s.settings.data}-epoch{s.run.epoch}.npz"))
        return Response(content, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def data_file(request: Request) -> Response:
        session = session_for(request)
        text = await locked(session, export.data_csv)
        return PlainTextResponse(text, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="playground-{session.settings.data}.csv"'})

    async def export_text(request: Request) -> Response:
        session = session_for(request)
        return JSONResponse(await locked(session, lambda s: {"command": export.command_line(s),
                                                             "python": export.python_script(s)}))

    async def close(request: Request) -> Response:
        sessions.pop(request.path_params["sid"], None)
        return Response(status_code=204)

    async def on_error(request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, _Error) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def reaper():
            while True:
                await asyncio.sleep(min(30.0, limits.idle_timeout_s / 2))
                reap()
        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()

    api = "/api/sessions/{sid}"
    app = Starlette(routes=[
        Route("/", index), Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/limits", get_limits), Route("/api/sessions", new_session, methods=["POST"]),
        Route(f"{api}/settings", change_settings, methods=["POST"]), Route(f"{api}/tick", tick, methods=["POST"]),
        Route(f"{api}/reset", reset, methods=["POST"]), Route(f"{api}/csv", upload, methods=["POST"]),
        Route(f"{api}/model.npz", model_file), Route(f"{api}/data.csv", data_file),
        Route(f"{api}/export", export_text), Route(f"{api}/close", close, methods=["POST"]),
    ], exception_handlers={_Error: on_error, ValueError: on_error}, lifespan=lifespan,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else None)
    app.state.sessions = sessions
    app.state.limits = limits
    return app
