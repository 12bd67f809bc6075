"""The synchronous Redis client used by the worker and by the API's RQ calls."""

from __future__ import annotations

import logging
import time

import redis

from jobs.settings import Settings

logger = logging.getLogger(__name__)


def connect_redis(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=15,
        retry_on_timeout=True,
    )


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
