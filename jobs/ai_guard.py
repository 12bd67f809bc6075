"""The cost guard in front of the AI APIs, shared by every worker through Redis.

Each call attempt passes two checks first:

- a circuit breaker: after `failures_to_open` consecutive failed attempts no
  call is made for `cooldown_s`. Once the cool-down has passed, one trial
  call (one across all workers) decides: a success closes the breaker, a
  failure opens it again for another cool-down.
- a daily budget: at most `daily_call_budget` attempts per UTC day. Every
  attempt counts, including those that fail or are retried.

A rejected call raises `CallRejected`, and the caller then falls back or fails fast.
"""

from __future__ import annotations

import datetime as dt
import logging

import msgspec
import redis

from jobs import keys
from jobs.settings import Settings

logger = logging.getLogger(__name__)


class CallRejected(Exception):
    """An AI call the guard did not let through; the message gives the reason."""


class Admission(msgspec.Struct, frozen=True):
    """A call the guard let through; `trial` marks the one call made after a cool-down."""

    trial: bool


class AiGuard:
    def __init__(
        self,
        connection: redis.Redis,
        *,
        failures_to_open: int,
        cooldown_s: int,
        daily_call_budget: int,
        trial_ttl_s: int,
    ) -> None:
        self._connection = connection
        self._failures_to_open = failures_to_open
        self._cooldown_s = cooldown_s
        self._daily_call_budget = daily_call_budget
        self._trial_ttl_s = trial_ttl_s

    @classmethod
    def from_settings(cls, connection: redis.Redis, settings: Settings) -> AiGuard:
        return cls(
            connection,
            failures_to_open=settings.ai_breaker_failures,
            cooldown_s=settings.ai_breaker_cooldown_s,
            daily_call_budget=settings.ai_daily_call_budget,
            trial_ttl_s=max(settings.ai_vision_deadline_s, settings.ai_feedback_deadline_s),
        )

    def admit(self) -> Admission:
        """Let one call attempt through, or raise CallRejected."""
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.get(keys.AI_BREAKER_FAILURES_KEY)
            pipe.exists(keys.AI_BREAKER_OPEN_KEY)
            raw_failures, is_open = pipe.execute()
        if is_open:
            raise CallRejected(f"circuit breaker open: the AI API failed {self._failures_to_open} times in a row")

        trial = int(raw_failures or 0) >= self._failures_to_open
        if trial and not self._connection.set(keys.AI_BREAKER_TRIAL_KEY, "1", nx=True, ex=self._trial_ttl_s):
            raise CallRejected("circuit breaker half-open: another worker is making the trial call")

        calls_today = self._count_call()
        if calls_today > self._daily_call_budget:
            if trial:
                self._connection.delete(keys.AI_BREAKER_TRIAL_KEY)
            raise CallRejected(f"daily AI call budget used up: {self._daily_call_budget} calls (AI_DAILY_CALL_BUDGET)")
        return Admission(trial=trial)

    def record_success(self, admission: Admission) -> None:
        """Close the breaker, because the API responded."""
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.delete(keys.AI_BREAKER_FAILURES_KEY, keys.AI_BREAKER_OPEN_KEY)
            if admission.trial:
                pipe.delete(keys.AI_BREAKER_TRIAL_KEY)
            pipe.execute()
        if admission.trial:
            logger.info("ai breaker closed: the trial call succeeded")

    def record_failure(self, admission: Admission) -> None:
        """Count a failed attempt and open the breaker when the count reaches the threshold."""
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.incr(keys.AI_BREAKER_FAILURES_KEY)
            pipe.expire(keys.AI_BREAKER_FAILURES_KEY, keys.AI_BREAKER_FAILURES_TTL_S)
            if admission.trial:
                pipe.delete(keys.AI_BREAKER_TRIAL_KEY)
            failures = int(pipe.execute()[0])
        if failures < self._failures_to_open:
            return
        # Later failures (a failed trial, or calls that were in flight when the
        # breaker opened) start the cool-down again.
        self._connection.set(keys.AI_BREAKER_OPEN_KEY, "1", ex=self._cooldown_s)
        if failures == self._failures_to_open or admission.trial:
            logger.warning(
                "ai breaker opened failures=%d cooldown_s=%d trial=%s", failures, self._cooldown_s, admission.trial
            )

    def _count_call(self) -> int:
        day = dt.datetime.now(dt.UTC).date().isoformat()
        key = keys.ai_daily_calls_key(day)
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, keys.AI_DAILY_CALLS_TTL_S)
            return int(pipe.execute()[0])
