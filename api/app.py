"""The API process: a Starlette app served by uvicorn.

Stateless by design: every request reads what it needs from Redis or storage,
so any number of copies can sit behind a round-robin load balancer.
Run it with `uvicorn api.app:create_app --factory`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from redis import asyncio as aioredis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import advice, bins, demo, docs, health, status, waste
from api.idempotency import IdempotencyStore
from api.openapi import build_openapi
from api.responses import MsgspecResponse, handle_http_error, handle_service_error
from jobs.catalogue import Catalogue
from jobs.errors import DependencyError, ServiceError
from jobs.lifecycle import JobLifecycle
from jobs.messages import Messages
from jobs.settings import Settings, load_settings_or_exit
from jobs.storage import PhotoStorage
from jobs.bins import BinFinder
from jobs.connection import connect_redis

logger = logging.getLogger(__name__)

API_REDIS_CONNECTIONS = 2048


async def openapi_document(request: Request) -> Response:
    return MsgspecResponse(request.app.state.openapi)


ROUTES = [
    Route("/api/v1/waste/analyze", waste.analyze, methods=["POST"]),
    Route("/api/v1/waste/jobs/{job_id}/start", waste.start, methods=["POST"]),
    Route("/api/v1/waste/jobs/{job_id}", waste.cancel, methods=["DELETE"]),
    Route("/api/v1/waste/status/{job_id}", status.get_status, methods=["GET"]),
    Route("/api/v1/waste/advice", advice.advice, methods=["GET"]),
    Route("/api/v1/bins/nearby", bins.nearby, methods=["GET"]),
    Route("/health", health.health, methods=["GET"]),
    Route("/ready", health.ready, methods=["GET"]),
    Route("/metrics", health.metrics, methods=["GET"]),
    Route("/openapi.json", openapi_document, methods=["GET"]),
    Route("/docs", docs.docs_page, methods=["GET"]),
    Route("/demo", demo.demo_page, methods=["GET"]),
    Route("/static/{name}", demo.static_asset, methods=["GET"]),
]


def create_app(settings: Settings | None = None) -> status.PollFastPath:
    settings = settings or load_settings_or_exit()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        messages = Messages.load()
        catalogue = Catalogue.load()
        # Polls share this pool. redis-py's default caps it at 100 connections and
        # raises past that; a blocking pool waits instead but costs about a tenth
        # of a poll's CPU, so this is a plain pool with a cap far above the
        # number of requests one process has in flight.
        async_pool = aioredis.ConnectionPool.from_url(
            settings.redis_url,
            max_connections=API_REDIS_CONNECTIONS,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
        async_redis = aioredis.Redis(connection_pool=async_pool)
        sync_redis = connect_redis(settings)
        storage = PhotoStorage(settings)
        try:
            storage.ensure_bucket()
        except DependencyError as err:
            # Start anyway: /ready reports the storage until it answers.
            logger.warning("storage bucket not checked at start-up: %s", err)
        app.state.settings = settings
        app.state.messages = messages
        app.state.redis = async_redis
        app.state.storage = storage
        app.state.lifecycle = JobLifecycle(sync_redis, settings, messages)
        app.state.bins = BinFinder.load(sync_redis, messages)
        app.state.catalogue = catalogue
        app.state.openapi = build_openapi()
        app.state.docs_page = docs.render_docs(app.state.openapi)
        app.state.demo = demo.DemoAssets.load(catalogue)
        app.state.idempotency = IdempotencyStore(async_redis, ttl_s=settings.job_ttl_s)
        app.state.storage_probe = health.StorageProbe(storage)
        logger.info("api ready queue=%s bucket=%s", settings.queue_name, settings.s3_bucket)
        # What start-up built lives as long as the process. Frozen, it is left out
        # of the collector's full passes, which otherwise stall polls now and then.
        gc.freeze()
        try:
            yield
        finally:
            await async_redis.aclose()
            sync_redis.close()

    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={ServiceError: handle_service_error, HTTPException: handle_http_error})
    return status.PollFastPath(app)
