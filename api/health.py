"""GET /health (liveness, touches nothing) and GET /ready (Redis and storage answer)."""

from __future__ import annotations

from redis import asyncio as aioredis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.responses import MsgspecResponse
from jobs.documents import HealthDocument
from jobs.errors import DependencyError


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
    healthy = all(value == "ok" for value in checks.values())
    return MsgspecResponse(
        HealthDocument(status="ok" if healthy else "unavailable", checks=checks),
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )
