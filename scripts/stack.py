"""A whole local stack in child processes: Redis, S3, API copies and workers.

The tests and the benchmarks use it to run the product the way production does,
over sockets, with real servers. `make run` uses honcho instead (scripts/run_local.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from scripts.local_services import (
    LOCAL_S3_ACCESS_KEY,
    LOCAL_S3_SECRET_KEY,
    REPO_ROOT,
    Service,
    free_port,
    http_ok,
    start_redis,
    start_s3,
    wait_until,
)


class LocalStack:
    def __init__(self, log_dir: Path, redis_url: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.redis: Service | None = None
        self.s3: Service | None = None
        self.apis: list[Service] = []
        self.workers: list[Service] = []
        self.redis_port = 0
        self.s3_port = 0
        self._external_redis_url = redis_url
        self.extra_env = dict(extra_env or {})

    # --- infrastructure --------------------------------------------------

    def start_infrastructure(self) -> LocalStack:
        if self._external_redis_url is None:
            self.redis_port = free_port()
            self.redis = start_redis(self.redis_port, self.log_dir / "redis.log")
        self.s3_port = free_port()
        self.s3 = start_s3(self.s3_port, self.log_dir / "s3.log")
        return self

    def load_bins(self) -> None:
        """Run the release step: load the collection-point dataset into Redis."""
        subprocess.run(
            [sys.executable, "-m", "scripts.load_bins", "--wait"],
            env=self.env(),
            check=True,
            capture_output=True,
            cwd=REPO_ROOT,
        )

    @property
    def redis_url(self) -> str:
        return self._external_redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ANTHROPIC_", "AI_", "S3_")) and key not in ("REDIS_URL", "PORT")
        }
        env.update(
            REDIS_URL=self.redis_url,
            S3_ENDPOINT=self.s3_endpoint,
            S3_ACCESS_KEY=LOCAL_S3_ACCESS_KEY,
            S3_SECRET_KEY=LOCAL_S3_SECRET_KEY,
            AI_PROVIDER="offline",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    # --- application processes -------------------------------------------

    def start_api(self, port: int | None = None, **env: str) -> Service:
        port = port or free_port()
        index = len(self.apis)
        service = Service(
            f"api-{index}",
            [
                sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                # Client addresses come from TRUSTED_PROXIES, not uvicorn's defaults.
                "--no-proxy-headers",
            ],
            env=self.env(PORT=str(port), **env),
            log_path=self.log_dir / f"api-{index}.log",
        ).start()  # fmt: skip
        service.port = port  # type: ignore[attr-defined]
        # Tracked before the wait, so that stop() ends it even when it never comes up.
        self.apis.append(service)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), 30, f"API on port {port}")
        return service

    def start_worker(self, **env: str) -> Service:
        index = len(self.workers)
        service = Service(
            f"worker-{index}",
            [sys.executable, "-m", "jobs.worker"],
            env=self.env(**env),
            log_path=self.log_dir / f"worker-{index}.log",
        ).start()
        self.workers.append(service)
        return service

    def api_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.apis[index].port}"  # type: ignore[attr-defined]

    def client(self, index: int = 0, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.api_url(index), timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        for service in [*self.workers, *self.apis]:
            service.stop()
        for service in (self.s3, self.redis):
            if service is not None:
                service.stop()
