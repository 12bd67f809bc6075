"""GET /health (liveness, touches nothing) and GET /ready (Redis and storage answer)."""

from __future__ import annotations

import asyncio
import time

from redis import asyncio as aioredis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.responses import MsgspecResponse
from jobs.documents import HealthDocument
from jobs import keys
from jobs.errors import DependencyError
from jobs.metrics import render_metrics
from jobs.storage import PhotoStorage
from jobs.supervision import WORKER_ALIVE_WINDOW_S


class StorageProbe:
    """Remembers for a moment whether storage answered, so creates do not each ask it."""

    def __init__(self, storage: PhotoStorage, fresh_s: float = 2.0) -> None:
        self._storage = storage
        self._fresh_s = fresh_s
        self._checked_at = -1e9
        self._error: DependencyError | None = None
        self._lock = asyncio.Lock()

    async def require(self) -> None:
        if time.monotonic() - self._checked_at > self._fresh_s:
            async with self._lock:
                # A request that waited on the lock reuses the check that just finished.
                if time.monotonic() - self._checked_at > self._fresh_s:
                    try:
                        await run_in_threadpool(self._storage.check)
                        self._error = None
                    except DependencyError as err:
                        self._error = err
                    self._checked_at = time.monotonic()
        if self._error is not None:
            raise self._error


async def health(request: Request) -> Response:
    return MsgspecResponse(HealthDocument(status="ok"), headers={"Cache-Control": "no-store"})


async def ready(request: Request) -> Response:
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        await state.redis.ping()
        checks["redis"] = "ok"
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as err:
        checks["redis"] = f"unavailable: {type(err).__name__}"
    try:
        await run_in_threadpool(state.storage.check)
        checks["storage"] = "ok"
    except DependencyError as err:
        checks["storage"] = f"unavailable: {err.values.get('detail', '')[:200]}"
    healthy = checks["redis"] == "ok" and checks["storage"] == "ok"
    if checks["redis"] == "ok":
        # Reported, not required: the API can take jobs while workers restart.
        alive = await state.redis.zcount(keys.WORKERS_ALIVE_KEY, time.time() - WORKER_ALIVE_WINDOW_S, "+inf")
        checks["workers"] = f"{alive} alive" if alive else "none alive"
    return MsgspecResponse(
        HealthDocument(status="ok" if healthy else "unavailable", checks=checks),
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format: queue depth and age, jobs in flight, outcomes, stage latencies."""
    state = request.app.state
    try:
        text = await render_metrics(state.redis, state.settings.queue_name)
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as err:
        raise DependencyError("queue_unavailable", detail=str(err)) from err
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4", headers={"Cache-Control": "no-store"})
