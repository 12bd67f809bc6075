"""The floor for the poll micro-benchmark: one async Redis GET per request, returned as JSON.

    uvicorn scripts.bench_baseline_app:app --no-access-log --no-proxy-headers

A bare ASGI callable with no framework. At start-up it stores a 300-byte value
under BASELINE_KEY, and every HTTP request reads it back with redis.asyncio and
returns `{"value": ...}`. Whatever our status endpoint costs beyond this is
routing, decoding and encoding the status document, the ETag, and a larger body:
a finished job's status document is about 3 KB. Reads REDIS_URL, which has no default.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

from redis import asyncio as aioredis

BASELINE_KEY = "bench:baseline:value"
VALUE_BYTES = 300

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_RESPONSE_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


class BaselineApp:
    def __init__(self, redis_url: str | None) -> None:
        self._redis_url = redis_url
        self._redis: aioredis.Redis | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._respond(send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if not self._redis_url:
                    failure = "REDIS_URL is missing: set it to the Redis server the baseline reads from"
                    await send({"type": "lifespan.startup.failed", "message": failure})
                    return
                # The same client options as the API's own connection (api/app.py).
                self._redis = aioredis.Redis.from_url(self._redis_url, socket_connect_timeout=2, socket_timeout=5)
                await self._redis.set(BASELINE_KEY, "v" * VALUE_BYTES)
                # The API freezes its start-up objects too (api/app.py), so both
                # processes leave the same kind of heap to the collector.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._redis is not None:
                    await self._redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _respond(self, send: Send) -> None:
        assert self._redis is not None, "the lifespan start-up has not run"
        value = await self._redis.get(BASELINE_KEY)
        body = json.dumps({"value": value.decode() if value is not None else None}).encode()
        headers = [*_RESPONSE_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


app = BaselineApp(os.environ.get("REDIS_URL"))
