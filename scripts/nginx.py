"""nginx as a round-robin load balancer in front of local API copies, run as a plain child process.

The benchmarks put it where production has its load balancer. It is started
with a generated configuration in a temporary directory (`nginx -p DIR -c
DIR/nginx.conf`, `daemon off;`), listens on a free 127.0.0.1 port, writes
nothing outside that directory and is stopped by PID like the other services.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from scripts.local_services import Service, free_port, http_ok, wait_until

# Idle connections kept open from nginx to the API copies; without them, every
# proxied request would open a new TCP connection to uvicorn.
UPSTREAM_KEEPALIVE_CONNECTIONS = 128
# Enough for a thousand phones, each with a connection to nginx and one from nginx upstream.
WORKER_CONNECTIONS = 8192
# The image-body form of POST /analyze takes a photo of up to MAX_UPLOAD_BYTES (10 MiB).
CLIENT_MAX_BODY_SIZE = "11m"

_CONFIG_TEMPLATE = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {open_files};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections {worker_connections};
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size {client_max_body_size};

    upstream api {{
{servers}
        keepalive {keepalive};
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;

        location / {{
            proxy_pass http://api;
            # HTTP/1.1 with an empty Connection header lets nginx reuse upstream connections.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # A dead API copy refuses the connection: nginx tries the next one.
            # nginx does not resend a POST that already reached a copy; the
            # phone retries it with its Idempotency-Key.
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


def nginx_config(prefix: Path, port: int, upstream_ports: Sequence[int]) -> str:
    if not upstream_ports:
        raise ValueError("nginx needs at least one upstream port, got none")
    servers = "\n".join(f"        server 127.0.0.1:{upstream};" for upstream in upstream_ports)
    return _CONFIG_TEMPLATE.format(
        prefix=prefix,
        port=port,
        servers=servers,
        keepalive=UPSTREAM_KEEPALIVE_CONNECTIONS,
        worker_connections=WORKER_CONNECTIONS,
        open_files=2 * WORKER_CONNECTIONS,
        client_max_body_size=CLIENT_MAX_BODY_SIZE,
    )


class NginxBalancer:
    """One nginx process spreading requests round-robin over API copies on 127.0.0.1."""

    def __init__(self, binary: str, upstream_ports: Sequence[int], log_path: Path | None = None) -> None:
        self.binary = binary
        self.upstream_ports = list(upstream_ports)
        self.log_path = log_path
        self.port = 0
        self._prefix: Path | None = None
        self._service: Service | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._service is not None, "nginx has not been started"
        return self._service.pid

    def start(self) -> NginxBalancer:
        self._prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        config_path = self._prefix / "nginx.conf"
        config_path.write_text(nginx_config(self._prefix, self.port, self.upstream_ports))
        # `-e` sends the errors logged before the configuration is read to the
        # prefix too, instead of the system's /var/log/nginx.
        command = [
            self.binary, "-p", str(self._prefix), "-c", str(config_path), "-e", str(self._prefix / "error.log")
        ]
        self._service = Service("nginx", command, log_path=self.log_path).start()
        try:
            wait_until(self._responds, 15, f"nginx on port {self.port}")
        except (TimeoutError, RuntimeError) as err:
            error_log = self._prefix / "error.log"
            errors = error_log.read_text(errors="replace")[-1000:] if error_log.exists() else "no error log"
            self.stop()
            raise RuntimeError(f"nginx did not start on port {self.port}: {errors}") from err
        return self

    def _responds(self) -> bool:
        assert self._service is not None
        if not self._service.running():
            raise RuntimeError("nginx exited at start-up")
        return http_ok(self.url + "/health")

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()
        if self._prefix is not None:
            shutil.rmtree(self._prefix, ignore_errors=True)
            self._prefix = None
