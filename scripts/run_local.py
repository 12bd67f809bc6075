"""`make run`: the whole stack on this machine through honcho.

Starts a Redis-compatible server (unless REDIS_URL is set), a local S3 server
(unless S3_ENDPOINT is set), the API on http://127.0.0.1:$PORT and one worker,
from a development Procfile written to .run/Procfile.dev.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from scripts.local_services import (
    LOCAL_S3_ACCESS_KEY,
    LOCAL_S3_SECRET_KEY,
    REPO_ROOT,
    free_port,
    redis_command,
    s3_command,
    tcp_open,
)

RUN_DIR = REPO_ROOT / ".run"


def _line(name: str, command: list[str] | str) -> str:
    text = command if isinstance(command, str) else shlex.join(command)
    return f"{name}: {text}\n"


def build_procfile(env: dict[str, str], port: int) -> str:
    python = sys.executable
    lines = []
    if "REDIS_URL" not in os.environ:
        redis_port = free_port()
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        lines.append(_line("redis", redis_command(redis_port)))
    if "S3_ENDPOINT" not in os.environ:
        s3_port = free_port()
        env["S3_ENDPOINT"] = f"http://127.0.0.1:{s3_port}"
        env.setdefault("S3_ACCESS_KEY", LOCAL_S3_ACCESS_KEY)
        env.setdefault("S3_SECRET_KEY", LOCAL_S3_SECRET_KEY)
        lines.append(_line("s3", s3_command(s3_port)))
    uvicorn = [python, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers"]
    bins_loader = Path(REPO_ROOT / "scripts" / "load_bins.py")
    if bins_loader.exists():
        # The bin index is loaded before the API starts taking requests; honcho
        # stops every process when one exits, so the loader runs inside `web`.
        web = f"{shlex.join([python, '-m', 'scripts.load_bins', '--wait'])} && exec {shlex.join(uvicorn)}"
    else:
        web = shlex.join(uvicorn)
    lines.append(_line("web", web))
    lines.append(_line("worker", [python, "-m", "jobs.worker"]))
    return "".join(lines)


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    if tcp_open(port):
        print(f"port {port} is already in use: stop what runs there or set PORT=8001 make run", file=sys.stderr)
        raise SystemExit(2)
    env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1")
    procfile = build_procfile(env, port)
    RUN_DIR.mkdir(exist_ok=True)
    path = RUN_DIR / "Procfile.dev"
    path.write_text(procfile, encoding="utf-8")

    base = f"http://127.0.0.1:{port}"
    print(
        f"\n  API:      {base}\n"
        f"  Demo:     {base}/demo\n"
        f"  API docs: {base}/docs  (OpenAPI: {base}/openapi.json)\n"
        f"  Redis:    {env['REDIS_URL']}\n"
        f"  S3:       {env['S3_ENDPOINT']}\n"
        f"  Try it:   make demo PHOTO=path/to/photo.jpg\n"
        f"  Stop:     Ctrl+C\n",
        flush=True,
    )
    honcho = str(Path(sys.executable).parent / "honcho")
    os.execve(honcho, [honcho, "start", "-f", str(path), "-d", str(REPO_ROOT)], env)


if __name__ == "__main__":
    main()
