"""Typed settings read once from the environment.

A missing or malformed value stops start-up with one line naming the variable
and what it expects, so a misconfigured process never half-starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Literal

import msgspec

AiProviderName = Literal["anthropic", "local", "offline", "simulated"]


class SettingsError(Exception):
    """A setting is missing or malformed."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    redis_url: str
    s3_endpoint: str
    s3_public_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    s3_region: str
    s3_secure: bool
    s3_public_secure: bool
    anthropic_api_key: str | None
    anthropic_model: str
    anthropic_max_tokens: int
    ai_provider: AiProviderName
    ai_fallback: bool
    ai_vision_deadline_s: int
    ai_feedback_deadline_s: int
    ai_breaker_failures: int
    ai_breaker_cooldown_s: int
    ai_daily_call_budget: int
    max_upload_bytes: int
    max_image_pixels: int
    job_ttl_s: int
    job_deadline_s: int
    upload_url_ttl_s: int
    poll_interval_ms: int
    worker_concurrency: int
    queue_name: str
    port: int
    trusted_proxies: tuple[str, ...]
    simulated_vision_s: tuple[float, float]
    shutdown_grace_s: int
    cache_enabled: bool
    cache_ttl_s: int
    cache_similar_max_distance: int
    no_worker_timeout_s: int
    rate_limit_per_minute: int
    simulated_feedback_s: tuple[float, float]
    log_level: str


def _text(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise SettingsError(f"{name} is missing: set it in the environment")
    return default


def _integer(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _endpoint(environ: Mapping[str, str], name: str, default: str) -> tuple[str, bool]:
    """Split an S3 endpoint URL into the `host:port` the minio SDK takes and its TLS flag."""
    raw = _text(environ, name, default)
    scheme, separator, host = raw.partition("://")
    if not separator or scheme not in ("http", "https") or not host or "/" in host.rstrip("/"):
        raise SettingsError(f"{name} must be a URL like http://127.0.0.1:9000, got {raw!r}")
    return host.rstrip("/"), scheme == "https"


def _seconds_range(environ: Mapping[str, str], name: str, default: tuple[float, float]) -> tuple[float, float]:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    low, separator, high = raw.partition("-")
    try:
        bounds = (float(low), float(high if separator else low))
    except ValueError:
        raise SettingsError(f"{name} must be seconds or a range like 2-5, got {raw!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise SettingsError(f"{name} must be a non-negative range low-high, got {raw!r}")
    return bounds


def _default_provider(api_key: str | None) -> AiProviderName:
    return "anthropic" if api_key else "local"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from `environ` (the process environment by default)."""
    environ = os.environ if environ is None else environ
    s3_endpoint, s3_secure = _endpoint(environ, "S3_ENDPOINT", "http://127.0.0.1:9000")
    public_default = f"{'https' if s3_secure else 'http'}://{s3_endpoint}"
    s3_public_endpoint, public_secure = _endpoint(environ, "S3_PUBLIC_ENDPOINT", public_default)
    api_key = environ.get("ANTHROPIC_API_KEY", "").strip() or None

    provider = _text(environ, "AI_PROVIDER", _default_provider(api_key))
    if provider not in ("anthropic", "local", "offline", "simulated"):
        raise SettingsError(f"AI_PROVIDER must be anthropic, local, offline or simulated, got {provider!r}")
    if provider == "anthropic" and not api_key:
        raise SettingsError("AI_PROVIDER=anthropic needs ANTHROPIC_API_KEY: set the key or choose another provider")

    proxies = tuple(p.strip() for p in environ.get("TRUSTED_PROXIES", "").split(",") if p.strip())
    return Settings(
        redis_url=_text(environ, "REDIS_URL", "redis://127.0.0.1:6379/0"),
        s3_endpoint=s3_endpoint,
        s3_public_endpoint=s3_public_endpoint,
        s3_access_key=_text(environ, "S3_ACCESS_KEY", "local-access-key"),
        s3_secret_key=_text(environ, "S3_SECRET_KEY", "local-secret-key"),
        s3_bucket=_text(environ, "S3_BUCKET", "waste-uploads"),
        s3_region=_text(environ, "S3_REGION", "us-east-1"),
        s3_secure=s3_secure,
        s3_public_secure=public_secure,
        anthropic_api_key=api_key,
        anthropic_model=_text(environ, "ANTHROPIC_MODEL", "claude-sonnet-4-5"),
        anthropic_max_tokens=_integer(environ, "ANTHROPIC_MAX_TOKENS", 1024, minimum=64),
        ai_provider=provider,  # type: ignore[arg-type]
        ai_fallback=_boolean(environ, "AI_FALLBACK", True),
        ai_vision_deadline_s=_integer(environ, "AI_VISION_DEADLINE_SECONDS", 20, minimum=1),
        ai_feedback_deadline_s=_integer(environ, "AI_FEEDBACK_DEADLINE_SECONDS", 25, minimum=1),
        ai_breaker_failures=_integer(environ, "AI_BREAKER_FAILURES", 5, minimum=1),
        ai_breaker_cooldown_s=_integer(environ, "AI_BREAKER_COOLDOWN_SECONDS", 30, minimum=1),
        ai_daily_call_budget=_integer(environ, "AI_DAILY_CALL_BUDGET", 5000, minimum=0),
        max_upload_bytes=_integer(environ, "MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1024),
        max_image_pixels=_integer(environ, "MAX_IMAGE_PIXELS", 50_000_000, minimum=1),
        job_ttl_s=_integer(environ, "JOB_TTL_SECONDS", 3600, minimum=1),
        job_deadline_s=_integer(environ, "JOB_DEADLINE_SECONDS", 60, minimum=5),
        upload_url_ttl_s=_integer(environ, "UPLOAD_URL_TTL_SECONDS", 900, minimum=60),
        poll_interval_ms=_integer(environ, "POLL_INTERVAL_MS", 500, minimum=100),
        worker_concurrency=_integer(environ, "WORKER_CONCURRENCY", 8, minimum=1),
        queue_name=_text(environ, "QUEUE_NAME", "waste"),
        port=_integer(environ, "PORT", 8000, minimum=1),
        trusted_proxies=proxies,
        cache_enabled=_boolean(environ, "CACHE_ENABLED", True),
        cache_ttl_s=_integer(environ, "CACHE_TTL_SECONDS", 86400, minimum=1),
        cache_similar_max_distance=_integer(environ, "CACHE_SIMILAR_MAX_DISTANCE", 6, minimum=-1),
        shutdown_grace_s=_integer(environ, "WORKER_SHUTDOWN_GRACE_SECONDS", 25, minimum=0),
        no_worker_timeout_s=_integer(environ, "NO_WORKER_TIMEOUT_SECONDS", 30, minimum=1),
        rate_limit_per_minute=_integer(environ, "RATE_LIMIT_JOBS_PER_MINUTE", 30, minimum=0),
        simulated_vision_s=_seconds_range(environ, "SIMULATED_VISION_SECONDS", (2.0, 5.0)),
        simulated_feedback_s=_seconds_range(environ, "SIMULATED_FEEDBACK_SECONDS", (3.0, 8.0)),
        log_level=_text(environ, "LOG_LEVEL", "INFO").upper(),
    )


def load_settings_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """Load the settings, or print the one-line reason and exit with status 2."""
    try:
        return load_settings(environ)
    except SettingsError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
