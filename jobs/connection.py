"""The synchronous Redis client used by the worker and by the API's RQ calls."""

from __future__ import annotations

import logging
import time

import redis

from jobs.settings import Settings

logger = logging.getLogger(__name__)

REDIS_SPARE_CONNECTIONS = 16
# How long a thread waits for a pooled connection before the call fails.
POOL_WAIT_S = 5
# Set on every connection, so that it covers the worker's blocking dequeue
# (jobs/worker.py DEQUEUE_TIMEOUT_S). Left unset, the sockets here read with a
# 5 s timeout (redis-py 8.2, with socket_connect_timeout=5): a dequeue then failed
# after 10 s (one retry) and RQ backed off for up to a minute while jobs waited.
SOCKET_TIMEOUT_S = 15


def connect_redis(settings: Settings) -> redis.Redis:
    # Every job thread may hold a connection, plus the supervisor and the main
    # loop. redis-py's default pool raises at once past 100 connections; this one
    # waits for a free connection instead.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.worker_concurrency + REDIS_SPARE_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_connect_timeout=5,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=15,
        retry_on_timeout=True,
    )
    return redis.Redis(connection_pool=pool)


def wait_for_redis(connection: redis.Redis, timeout_s: float) -> None:
    """Block until Redis answers PING, raising the last error after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.1
    while True:
        try:
            connection.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() >= deadline:
                raise
            logger.info("waiting for Redis, retry in %.1f s", delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 2.0)
