"""Job metrics kept in Redis and rendered in the Prometheus text format.

Workers add to them when a job ends; any API copy renders the same numbers,
so an autoscaler may scrape whichever copy the load balancer picks.
"""

from __future__ import annotations

import datetime as dt
import time

import redis
from redis import asyncio as aioredis

from jobs import keys
from jobs.stages import CHECKLIST, Stage
from jobs.supervision import WORKER_ALIVE_WINDOW_S

# Upper bounds of the latency histogram buckets, in milliseconds.
STAGE_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
TIMED_STAGES = tuple(stage.value for stage in CHECKLIST if stage is not Stage.DONE)


def _bucket_of(elapsed_ms: int) -> str:
    for bound in STAGE_BUCKETS_MS:
        if elapsed_ms <= bound:
            return str(bound)
    return "inf"


def record_job(connection: redis.Redis, outcome: str, timings_ms: dict[str, int]) -> None:
    """Count one ended job (`finished`, `canceled` or `failed:<code>`) and its stage times."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.hincrby(keys.METRICS_OUTCOMES_KEY, outcome, 1)
        for stage, elapsed_ms in timings_ms.items():
            key = keys.metrics_stage_key(stage)
            pipe.hincrby(key, _bucket_of(elapsed_ms), 1)
            pipe.hincrby(key, "sum_ms", elapsed_ms)
        pipe.execute()


def _number(raw: bytes | None) -> int:
    return int(raw) if raw else 0


async def render_metrics(connection: aioredis.Redis, queue_name: str) -> str:
    queue_key = keys.RQ_QUEUE_KEY.format(queue=queue_name)
    async with connection.pipeline(transaction=False) as pipe:
        pipe.llen(queue_key)
        pipe.lindex(queue_key, 0)
        pipe.zcard(keys.RQ_STARTED_KEY.format(queue=queue_name))
        pipe.zcount(keys.WORKERS_ALIVE_KEY, time.time() - WORKER_ALIVE_WINDOW_S, "+inf")
        pipe.hgetall(keys.METRICS_OUTCOMES_KEY)
        for stage in TIMED_STAGES:
            pipe.hgetall(keys.metrics_stage_key(stage))
        depth, oldest_id, in_flight, workers, outcomes, *stages = await pipe.execute()

    oldest_age_s = 0.0
    if oldest_id is not None:
        enqueued_at = await connection.hget(keys.job_key(oldest_id.decode()), "enqueued_at")
        if enqueued_at:
            oldest_age_s = max(0.0, time.time() - _parse_rq_time(enqueued_at.decode()))

    lines = [
        "# HELP waste_queue_depth Jobs waiting in the RQ queue.",
        "# TYPE waste_queue_depth gauge",
        f'waste_queue_depth{{queue="{queue_name}"}} {depth}',
        "# HELP waste_queue_oldest_age_seconds Age of the oldest queued job.",
        "# TYPE waste_queue_oldest_age_seconds gauge",
        f'waste_queue_oldest_age_seconds{{queue="{queue_name}"}} {oldest_age_s:.3f}',
        "# HELP waste_jobs_in_flight Jobs a worker is running now (RQ's started registry).",
        "# TYPE waste_jobs_in_flight gauge",
        f'waste_jobs_in_flight{{queue="{queue_name}"}} {in_flight}',
        "# HELP waste_workers_alive Worker processes with a fresh heartbeat.",
        "# TYPE waste_workers_alive gauge",
        f"waste_workers_alive {workers}",
        "# HELP waste_jobs_total Jobs that ended, by outcome.",
        "# TYPE waste_jobs_total counter",
    ]
    for outcome, count in sorted(outcomes.items()):
        status, _, code = outcome.decode().partition(":")
        lines.append(f'waste_jobs_total{{status="{status}",code="{code}"}} {int(count)}')
    lines += [
        "# HELP waste_stage_duration_seconds Time spent in each pipeline stage.",
        "# TYPE waste_stage_duration_seconds histogram",
    ]
    for stage, histogram in zip(TIMED_STAGES, stages, strict=True):
        cumulative = 0
        for bound in STAGE_BUCKETS_MS:
            cumulative += _number(histogram.get(str(bound).encode()))
            lines.append(f'waste_stage_duration_seconds_bucket{{stage="{stage}",le="{bound / 1000:g}"}} {cumulative}')
        cumulative += _number(histogram.get(b"inf"))
        lines.append(f'waste_stage_duration_seconds_bucket{{stage="{stage}",le="+Inf"}} {cumulative}')
        lines.append(f'waste_stage_duration_seconds_sum{{stage="{stage}"}} {_number(histogram.get(b"sum_ms")) / 1000:.3f}')
        lines.append(f'waste_stage_duration_seconds_count{{stage="{stage}"}} {cumulative}')
    return "\n".join(lines) + "\n"


def _parse_rq_time(value: str) -> float:
    """Parse RQ's UTC timestamps (`2026-12-04T10:00:00.123456Z`) to Unix seconds."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
