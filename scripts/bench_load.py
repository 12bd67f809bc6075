"""Load benchmarks: the poll endpoint against a bare ASGI floor, then up to a thousand phones.

    python -m scripts.bench_load [--quick] [--phones 100,300,600,1000]

1. Poll micro-benchmark: GET /api/v1/waste/status/{id} of a finished job on one
   uvicorn process, against scripts/bench_baseline_app.py (one redis.asyncio GET
   per request) under the same uvicorn flags; 100 connections with wrk.
2. Phone scenario: N phones arrive evenly over 10 s and each runs the whole flow
   (create, upload through the presigned POST, start, poll every 0.5 s until the
   job ends) with a photo of its own, against 3 API copies behind nginx and
   2 worker processes using AI_PROVIDER=simulated. The counts run in ascending
   order up to the first one that misses a target. One more run, halfway
   between the largest passing count and that one, narrows the search, and
   1,000 phones, the goal, is run for the record if the search stopped short.
   A table splits each phone's overhead into its parts.
3. Kill test: the largest passing count again (the first count if none
   passed), with one API copy and one worker SIGKILLed 4 s after the first
   arrival.

Every server is started here on 127.0.0.1 and stopped by PID afterwards. Each
run gets a fresh stack, so no run finds the results of another in the cache.
wrk and nginx come from Debian packages and are installed with apt-get when
missing. The table is printed and written to bench-output/load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgspec
import redis
import uvloop
from PIL import Image, ImageOps
from redis import asyncio as aioredis

from jobs import keys
from jobs.documents import AnalyzeResponse, ErrorDocument, StatusDocument, UploadDescriptor
from jobs.stages import JobStatus
from scripts.local_services import REPO_ROOT, Service, free_port, http_ok, wait_until
from scripts.nginx import NginxBalancer
from scripts.phone import PhoneClient
from scripts.stack import LocalStack

OUTPUT_PATH = REPO_ROOT / "bench-output" / "load.md"
PHOTO_DIRS = (REPO_ROOT / "tests" / "fixtures" / "photos" / "naver", REPO_ROOT / "tests" / "fixtures" / "photos" / "trashnet")

# Targets: the micro-benchmark against the baseline app, then what every phone run must meet.
TARGET_POLL_RPS_RATIO = 0.75
TARGET_POLL_P99_RATIO = 1.5
TARGET_CREATE_P99_MS = 100.0
TARGET_POLL_P99_MS = 50.0
TARGET_OVERHEAD_P99_MS = 1000.0
TARGET_WORKER_PSS_BYTES = 1.5 * 1024**3

MICRO_CONNECTIONS = 100
MICRO_WARMUP_S = 2

ARRIVAL_WINDOW_S = 10.0
POLL_INTERVAL_S = 0.5
# A normal flow ends within about 15 s. A job recovered from a killed worker
# waits up to 10 s for the reaper (jobs/supervision.py) and then runs again.
FLOW_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 15.0
# Flows still running this long after the first arrival are stopped and count as failed.
RUN_TIME_LIMIT_S = ARRIVAL_WINDOW_S + FLOW_TIMEOUT_S + 30
SAMPLE_INTERVAL_S = 0.5
API_COPIES = 3
# The workers' queue: QUEUE_NAME is left at its default in every run.
QUEUE_NAME = "waste"
WORKER_PROCESSES = 2
WORKER_CONCURRENCY = 600
KILL_AFTER_S = 4.0
# Retries of create and start on a connection error or a 502/503/504, as the phone does.
MAX_REQUEST_ATTEMPTS = 6
RETRY_DELAY_S = 0.5
RETRY_STATUSES = frozenset({502, 503, 504})

PHONE_COUNTS = (100, 300, 500, 700, 1000)
# The count the targets aim at: it is run for the record even after a smaller count missed.
GOAL_PHONE_COUNT = 1000
# The count tried between the largest passing and the first failing count is a multiple of this.
SEARCH_STEP = 50
QUICK_PHONE_COUNT = 50
# Phones stand around Seoul City Hall, where the bin dataset has collection points.
SEOUL_CITY_HALL = (37.5665, 126.9780)

PHOTO_SIZE_PX = (1080, 810)
SOURCE_SCALES = (0.5, 0.7, 1.0)
TILE_FLIPS = (None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180)

_status_decoder = msgspec.json.Decoder(StatusDocument)
_analyze_decoder = msgspec.json.Decoder(AnalyzeResponse)
_error_decoder = msgspec.json.Decoder(ErrorDocument)


# --- statistics -------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of another process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name in brackets may contain spaces, so split after it.
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proportional_set_size(pid: int) -> int:
    """PSS of one process in bytes from /proc/<pid>/smaps_rollup; 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


# --- tools from Debian packages ---------------------------------------------


def ensure_debian_tool(binary: str, package: str) -> str | None:
    """Return the path of `binary`, installing `package` with apt-get first when it is missing."""
    found = shutil.which(binary)
    if found:
        return found
    print(f"*** {binary} not found: installing the Debian package `{package}` with apt-get ***", file=sys.stderr)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        try:
            completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as err:
            print(f"*** `{' '.join(command)}` failed: {err} ***", file=sys.stderr)
            return None
        if completed.returncode != 0:
            print(f"*** `{' '.join(command)}` failed: {completed.stderr.strip()[-500:]} ***", file=sys.stderr)
            return None
    return shutil.which(binary)


# --- photos -----------------------------------------------------------------


def load_source_photos() -> list[Image.Image]:
    """Load the real photos upright, each at a few scales, so that a tile is a plain crop."""
    paths = [path for directory in PHOTO_DIRS if directory.is_dir() for path in sorted(directory.glob("*.jpg"))]
    if not paths:
        raise FileNotFoundError(f"no *.jpg photos in {' or '.join(str(d) for d in PHOTO_DIRS)}")
    tile_width, tile_height = PHOTO_SIZE_PX[0] // 2, PHOTO_SIZE_PX[1] // 2
    scaled = []
    for path in paths:
        with Image.open(path) as image:
            photo = ImageOps.exif_transpose(image).convert("RGB")
        for scale in SOURCE_SCALES:
            size = (round(photo.width * scale), round(photo.height * scale))
            if size[0] >= tile_width and size[1] >= tile_height:
                scaled.append(photo.resize(size, Image.Resampling.LANCZOS))
    if not scaled:
        raise ValueError(f"the photos in {' and '.join(str(d) for d in PHOTO_DIRS)} must be at least {tile_width}x{tile_height} px")
    return scaled


def mosaic_photo(sources: Sequence[Image.Image], rng: random.Random) -> bytes:
    """Build a JPEG of 2x2 tiles, each a random crop of a real photo, flipped at random.

    A few random pixels alone would make the bytes unique but leave the
    perceptual hash unchanged, so a near-duplicate cache would return an
    earlier phone's result. Random tiles keep every phone's photo apart.
    """
    width, height = PHOTO_SIZE_PX
    tile_width, tile_height = width // 2, height // 2
    canvas = Image.new("RGB", PHOTO_SIZE_PX)
    for row in range(2):
        for column in range(2):
            source = rng.choice(sources)
            left = rng.randrange(source.width - tile_width + 1)
            top = rng.randrange(source.height - tile_height + 1)
            tile = source.crop((left, top, left + tile_width, top + tile_height))
            flip = rng.choice(TILE_FLIPS)
            if flip is not None:
                tile = tile.transpose(flip)
            canvas.paste(tile, (column * tile_width, row * tile_height))
    for _ in range(8):
        position = (rng.randrange(width), rng.randrange(height))
        canvas.putpixel(position, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=rng.randint(80, 92))
    return buffer.getvalue()


def phone_photos(count: int, seed: int = 20261204) -> list[bytes]:
    sources = load_source_photos()
    rng = random.Random(seed)
    return [mosaic_photo(sources, rng) for _ in range(count)]


# --- 1. poll micro-benchmark --------------------------------------------------


@dataclass
class HttpLoadResult:
    name: str
    tool: str
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_us_per_request: float = math.nan


def _wrk_duration_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(f"wrk latency must end in us, ms, s or m, got {text!r}")


def parse_wrk_output(name: str, output: str) -> HttpLoadResult:
    latencies: dict[str, float] = {}
    requests = 0
    requests_per_s = math.nan
    errors = 0
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] in ("50%", "99%"):
            latencies[fields[0]] = _wrk_duration_ms(fields[1])
        elif line.strip().startswith("Requests/sec:"):
            requests_per_s = float(fields[1])
        elif "requests in" in line:
            requests = int(fields[0])
        elif line.strip().startswith("Socket errors:"):
            errors += sum(int(part.strip(",")) for part in fields[2::2])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            errors += int(fields[-1])
    if "50%" not in latencies or "99%" not in latencies or math.isnan(requests_per_s):
        raise RuntimeError(f"wrk output has no latency distribution or Requests/sec line:\n{output}")
    return HttpLoadResult(name, "wrk", requests, requests_per_s, latencies["50%"], latencies["99%"], errors)


def run_wrk(wrk: str, name: str, url: str, duration_s: int) -> HttpLoadResult:
    command = [wrk, "-t2", f"-c{MICRO_CONNECTIONS}", f"-d{duration_s}s", "--timeout", "5s", "--latency", url]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 30, check=True)
    return parse_wrk_output(name, completed.stdout)


async def _python_http_load(name: str, url: str, duration_s: int) -> HttpLoadResult:
    latencies_ms: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def connection_loop(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1
                continue
            latencies_ms.append((time.perf_counter() - began) * 1000)

    connector = aiohttp.TCPConnector(limit=MICRO_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=5)) as session:
        await asyncio.gather(*(connection_loop(session) for _ in range(MICRO_CONNECTIONS)))
    return HttpLoadResult(
        name, "aiohttp", len(latencies_ms), len(latencies_ms) / duration_s,
        percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99), errors,
    )  # fmt: skip


def measure_http(wrk: str | None, name: str, url: str, duration_s: int, server_pid: int) -> HttpLoadResult:
    """Warm up, then measure `url` with wrk, or with aiohttp in this process when wrk is missing.

    The server's CPU time per request is measured too: unlike req/s, it hardly
    changes when other work shares the machine.
    """
    if wrk is not None:
        run_wrk(wrk, name, url, MICRO_WARMUP_S)
    else:
        uvloop.run(_python_http_load(name, url, MICRO_WARMUP_S))
    cpu_before = process_cpu_seconds(server_pid)
    if wrk is not None:
        result = run_wrk(wrk, name, url, duration_s)
    else:
        result = uvloop.run(_python_http_load(name, url, duration_s))
    if result.requests:
        result.server_cpu_us_per_request = (process_cpu_seconds(server_pid) - cpu_before) / result.requests * 1e6
    return result


def finish_one_job(stack: LocalStack, photo: bytes) -> str:
    """Create a job through the image-body path and wait until a worker finishes it."""
    with stack.client() as client:
        phone = PhoneClient(client, client_id="bench-micro")
        lat, lon = SEOUL_CITY_HALL
        response = phone.analyze_image(photo, params={"lat": lat, "lon": lon})
        if response.status_code != 202:
            raise RuntimeError(f"creating the micro-benchmark job failed with HTTP {response.status_code}: {response.text[:300]}")
        created = _analyze_decoder.decode(response.content)
        documents = phone.poll(created.status_url, timeout_s=60)
    last = msgspec.convert(documents[-1], StatusDocument)
    if last.status != JobStatus.FINISHED:
        raise RuntimeError(f"the micro-benchmark job {created.job_id} ended {last.status.value}, expected finished")
    return created.job_id


def start_baseline(stack: LocalStack, log_dir: Path) -> tuple[Service, int]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "scripts.bench_baseline_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--no-proxy-headers",
    ]  # fmt: skip
    service = Service("baseline", command, env=stack.env(), log_path=log_dir / "baseline.log").start()
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/"), 30, f"baseline app on port {port}")
    return service, port


def poll_microbenchmark(wrk: str | None, log_dir: Path, duration_s: int, photo: bytes) -> list[HttpLoadResult]:
    stack = LocalStack(
        log_dir,
        extra_env={"AI_PROVIDER": "simulated", "SIMULATED_VISION_SECONDS": "0.2", "SIMULATED_FEEDBACK_SECONDS": "0.2"},
    )
    baseline: Service | None = None
    try:
        stack.start_infrastructure()
        stack.load_bins()
        api = stack.start_api()
        worker = stack.start_worker()
        job_id = finish_one_job(stack, photo)
        # The worker's heartbeats would only add noise to the measurement.
        worker.stop()
        baseline, baseline_port = start_baseline(stack, log_dir)
        status_url = f"{stack.api_url()}/api/v1/waste/status/{job_id}"
        ours = measure_http(wrk, "GET /api/v1/waste/status/{id}", status_url, duration_s, api.pid)
        floor = measure_http(wrk, "baseline: one redis.asyncio GET", f"http://127.0.0.1:{baseline_port}/", duration_s, baseline.pid)
        return [ours, floor]
    finally:
        if baseline is not None:
            baseline.stop()
        stack.stop()


# --- 2. the phone scenario ---------------------------------------------------


class FlowFailure(Exception):
    """A phone's flow cannot go on: an unexpected response or too many failed attempts."""


def describe_response(status: int, body: bytes) -> str:
    """Describe a response by its status and error code (`HTTP 409 idempotency_key_in_progress`), or its body's start."""
    try:
        return f"HTTP {status} {_error_decoder.decode(body).error.code}"
    except msgspec.DecodeError:
        return f"HTTP {status} {body[:100].decode(errors='replace')!r}"


@dataclass
class PhoneRecord:
    job_id: str | None = None
    last_status: str | None = None
    create_ms: list[float] = field(default_factory=list)
    upload_ms: list[float] = field(default_factory=list)
    start_ms: list[float] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)
    create_retries: int = 0
    upload_retries: int = 0
    start_retries: int = 0
    poll_failures: int = 0
    final_status: str | None = None
    failure: str | None = None
    end_to_end_s: float | None = None
    simulated_ai_s: float | None = None
    attempt: int = 1
    error_code: str | None = None
    cache_hit: bool = False
    # Wall-clock times (time.time()) for the overhead breakdown: the phone's start,
    # the response to its start request, and the poll that saw the job end.
    began_at: float | None = None
    queued_at: float | None = None
    seen_at: float | None = None
    # From the RQ job hash after the run: when RQ queued, started and ended the job.
    rq_times: tuple[float, float, float] | None = None

    @property
    def api_responses(self) -> int:
        return len(self.create_ms) + len(self.start_ms) + len(self.poll_ms)

    @property
    def failed_requests(self) -> int:
        """Requests the phone had to repeat: failed polls, retried creates and starts, and retried uploads."""
        return self.poll_failures + self.create_retries + self.start_retries + self.upload_retries

    @property
    def overhead_ms(self) -> float | None:
        if self.end_to_end_s is None or self.simulated_ai_s is None:
            return None
        return (self.end_to_end_s - self.simulated_ai_s) * 1000


class Phone:
    """One phone running the whole flow against the balancer with its own client id and photo."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, photo: bytes, rng: random.Random) -> None:
        self._session = session
        self._base_url = base_url
        self._photo = photo
        self._headers = {"X-Client-Id": f"bench-phone-{uuid.uuid4().hex[:16]}"}
        self._idempotency_key = uuid.uuid4().hex
        self._location = (SEOUL_CITY_HALL[0] + rng.uniform(-0.03, 0.03), SEOUL_CITY_HALL[1] + rng.uniform(-0.03, 0.03))
        self.record = PhoneRecord()

    async def run(self) -> None:
        began = time.perf_counter()
        self.record.began_at = time.time()
        try:
            created = await self._create()
            self.record.job_id = created.job_id
            if created.upload is None:
                raise FlowFailure("create returned no upload descriptor")
            await self._upload(created.upload)
            document = await self._start(created.job_id)
            self.record.queued_at = time.time()
            if not document.status.ended:
                document = await self._poll(created.status_url)
        except FlowFailure as err:
            self.record.failure = str(err)
            return
        except msgspec.DecodeError as err:
            self.record.failure = f"response does not match the API's documents: {err}"
            return
        self._record_outcome(document, time.perf_counter() - began)

    def _record_outcome(self, document: StatusDocument, elapsed_s: float) -> None:
        record = self.record
        record.seen_at = time.time()
        record.final_status = document.status.value
        record.attempt = document.attempt
        if document.error is not None:
            record.error_code = document.error.code
        if document.status != JobStatus.FINISHED:
            record.failure = f"job ended {document.status.value}" + (f" ({document.error.code})" if document.error else "")
            return
        assert document.result is not None, "a finished job always carries its result"
        record.end_to_end_s = elapsed_s
        timings = document.result.timings_ms
        record.simulated_ai_s = (timings.get("vision", 0) + timings.get("feedback", 0)) / 1000
        record.cache_hit = document.result.cache.hit

    async def _send(self, method: str, url: str, timings: list[float], **kwargs: object) -> tuple[int, bytes]:
        """Send one request and return its status and body; connection errors propagate."""
        began = time.perf_counter()
        async with self._session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
            body = await response.read()
        timings.append((time.perf_counter() - began) * 1000)
        return response.status, body

    async def _send_with_retries(
        self,
        step: str,
        method: str,
        url: str,
        timings: list[float],
        make_data: Callable[[], object] | None = None,
        **kwargs: object,
    ) -> tuple[int, bytes, int]:
        """Send a request until it gets a response that is not a 502/503/504; returns status, body and retries.

        `make_data` builds a fresh body for each attempt, for bodies that are
        consumed when sent (aiohttp's FormData).
        """
        last_problem = ""
        for attempt in range(MAX_REQUEST_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_DELAY_S)
            if make_data is not None:
                kwargs["data"] = make_data()
            try:
                status, body = await self._send(method, url, timings, **kwargs)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                last_problem = f"{type(err).__name__}: {err}"
                continue
            if status not in RETRY_STATUSES:
                return status, body, attempt
            last_problem = f"HTTP {status}"
        raise FlowFailure(f"{step} failed {MAX_REQUEST_ATTEMPTS} times, last: {last_problem}")

    async def _create(self) -> AnalyzeResponse:
        request_body = {"locale": "ko", "size": len(self._photo), "lat": self._location[0], "lon": self._location[1]}
        headers = {**self._headers, "Idempotency-Key": self._idempotency_key}
        status, body, self.record.create_retries = await self._send_with_retries(
            "create", "POST", f"{self._base_url}/api/v1/waste/analyze", self.record.create_ms, json=request_body, headers=headers
        )
        if status != 202:
            raise FlowFailure(f"create returned {describe_response(status, body)}")
        return _analyze_decoder.decode(body)

    async def _upload(self, descriptor: UploadDescriptor) -> None:
        """Upload the photo with the presigned POST, again after a connection error or a 502/503/504, as a phone app would."""
        fields = descriptor.fields
        if descriptor.method != "POST" or fields is None:
            raise FlowFailure(f"upload descriptor must be a presigned POST, got {descriptor.method}")

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            for name, value in fields.items():
                data.add_field(name, value)
            # S3 reads the form fields up to the file, so the file goes last.
            data.add_field("file", self._photo, filename="photo.jpg", content_type="image/jpeg")
            return data

        status, body, self.record.upload_retries = await self._send_with_retries(
            "upload", "POST", descriptor.url, self.record.upload_ms, make_data=form
        )
        if status >= 300:
            raise FlowFailure(f"upload returned HTTP {status}: {body[:100].decode(errors='replace')!r}")

    async def _start(self, job_id: str) -> StatusDocument:
        # Start is idempotent: a repeated call returns the current status.
        status, body, self.record.start_retries = await self._send_with_retries(
            "start", "POST", f"{self._base_url}/api/v1/waste/jobs/{job_id}/start", self.record.start_ms, headers=self._headers
        )
        if status != 202:
            raise FlowFailure(f"start returned {describe_response(status, body)}")
        return _status_decoder.decode(body)

    async def _poll(self, status_url: str) -> StatusDocument:
        """Poll on a fixed 0.5 s tick until the job ends; a failed poll is retried on the next tick."""
        loop = asyncio.get_running_loop()
        url = self._base_url + status_url
        next_tick = loop.time() + POLL_INTERVAL_S
        deadline = loop.time() + FLOW_TIMEOUT_S
        entity_tag: str | None = None
        while loop.time() < deadline:
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            # A poll slower than the interval skips the ticks it overran, like a timer would.
            next_tick += POLL_INTERVAL_S * max(1, math.ceil((loop.time() - next_tick) / POLL_INTERVAL_S + 1e-9))
            headers = dict(self._headers)
            if entity_tag is not None:
                headers["If-None-Match"] = entity_tag
            began = time.perf_counter()
            try:
                async with self._session.get(url, headers=headers) as response:
                    body = await response.read()
                    status = response.status
                    entity_tag = response.headers.get("ETag", entity_tag)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                self.record.poll_failures += 1
                continue
            self.record.poll_ms.append((time.perf_counter() - began) * 1000)
            if status == 200:
                document = _status_decoder.decode(body)
                self.record.last_status = document.status.value
                if document.status.ended:
                    return document
            elif status != 304:
                self.record.poll_failures += 1
                if status < 500 and status != 429:
                    raise FlowFailure(f"poll returned {describe_response(status, body)}")
        raise FlowFailure(f"job did not end within {FLOW_TIMEOUT_S:.0f} s, last status {self.record.last_status}")


@dataclass
class KillPlan:
    """Processes to SIGKILL `after_s` seconds after the first arrival."""

    after_s: float
    pids: dict[str, int]
    # Wall-clock time (time.time()) of the kill, once it has run.
    done_at: float | None = None


class Sampler:
    """Peaks read from Redis and /proc every SAMPLE_INTERVAL_S while the phones run, and CPU per process.

    `processes` maps a label (`api-0`, `worker-1`, `nginx`, ...) to a PID; the
    labels that start with `worker` are summed for the worker PSS.
    """

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes
        self.peak_in_flight_jobs = 0
        self.peak_queued_jobs = 0
        self.peak_worker_pss_bytes = 0
        self.idle_worker_pss_bytes: int | None = None
        self._cpu_first: dict[str, float] = {}
        self._cpu_last: dict[str, float] = {}

    def cpu_seconds_by_component(self) -> dict[str, float]:
        """CPU seconds used while sampling, per label with its copy number removed (`api-0` counts as `api`)."""
        totals: Counter[str] = Counter()
        for label, first in self._cpu_first.items():
            totals[label.split("-")[0]] += self._cpu_last[label] - first
        return dict(totals)

    def _sample_processes(self) -> None:
        worker_pss = 0
        for label, pid in self.processes.items():
            try:
                used = process_cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError):
                # A killed process keeps its last sample.
                continue
            self._cpu_first.setdefault(label, used)
            self._cpu_last[label] = used
            if label.startswith("worker"):
                worker_pss += proportional_set_size(pid)
        self.peak_worker_pss_bytes = max(self.peak_worker_pss_bytes, worker_pss)
        if self.idle_worker_pss_bytes is None:
            self.idle_worker_pss_bytes = worker_pss

    async def run(self, redis_url: str, queue_name: str, stop: asyncio.Event) -> None:
        # RQ 3 keeps the StartedJobRegistry in `rq:wip:<queue>`, one member per running execution.
        started_registry_key = f"rq:wip:{queue_name}"
        queue_key = f"rq:queue:{queue_name}"
        connection = aioredis.Redis.from_url(redis_url)
        try:
            while True:
                async with connection.pipeline(transaction=False) as pipe:
                    pipe.zcard(started_registry_key)
                    pipe.llen(queue_key)
                    in_flight, queued = await pipe.execute()
                self.peak_in_flight_jobs = max(self.peak_in_flight_jobs, int(in_flight))
                self.peak_queued_jobs = max(self.peak_queued_jobs, int(queued))
                self._sample_processes()
                if stop.is_set():
                    return
                try:
                    await asyncio.wait_for(stop.wait(), SAMPLE_INTERVAL_S)
                except asyncio.TimeoutError:
                    pass
        finally:
            await connection.aclose()


@dataclass
class ScenarioResult:
    phones: int
    records: list[PhoneRecord]
    sampler: Sampler
    wall_s: float
    load_generator_cpu_s: float
    killed: list[str] = field(default_factory=list)
    recoveries_logged: int = 0
    killed_at: float | None = None

    def latencies(self, name: str) -> list[float]:
        return [value for record in self.records for value in getattr(record, name)]

    @property
    def failed_flows(self) -> int:
        return sum(1 for record in self.records if record.failure is not None)

    @property
    def overheads_ms(self) -> list[float]:
        return [value for record in self.records if (value := record.overhead_ms) is not None]

    def overhead_parts_ms(self) -> dict[str, list[float]]:
        """Split each first-attempt phone's overhead into the parts the table reports, in ms."""
        parts: dict[str, list[float]] = {name: [] for name in OVERHEAD_PARTS}
        for record in self.records:
            began, queued, seen, ai_s = record.began_at, record.queued_at, record.seen_at, record.simulated_ai_s
            if record.rq_times is None or record.attempt != 1:
                continue
            if began is None or queued is None or seen is None or ai_s is None:
                continue
            enqueued, started, ended = record.rq_times
            parts["create, upload, start"].append((queued - began) * 1000)
            parts["waiting in the queue"].append((started - enqueued) * 1000)
            parts["worker, besides the AI"].append((ended - started - ai_s) * 1000)
            parts["until the next poll sees it"].append((seen - ended) * 1000)
        return parts

    @property
    def slowest_recovery_s(self) -> float:
        """Seconds from the kill to the end of the last recovered job (RQ's end time, else when its phone saw it)."""
        if self.killed_at is None:
            return math.nan
        ends = []
        for record in self.records:
            if record.attempt < 2 and record.error_code != "worker_lost":
                continue
            end = record.rq_times[2] if record.rq_times is not None else record.seen_at
            if end is not None:
                ends.append(end - self.killed_at)
        return max(ends, default=math.nan)

    @property
    def recovered_jobs(self) -> int:
        """Jobs whose last status document shows a second attempt or the `worker_lost` error."""
        return sum(1 for record in self.records if record.attempt >= 2 or record.error_code == "worker_lost")

    @property
    def api_responses_per_s(self) -> float:
        return sum(record.api_responses for record in self.records) / self.wall_s

    def failure_reasons(self, limit: int = 5) -> list[tuple[str, int, str | None]]:
        """List the most common failures, each with its count and the job id of one example."""
        reasons = Counter(record.failure for record in self.records if record.failure is not None)
        examples = {record.failure: record.job_id for record in self.records if record.failure is not None}
        return [(reason, count, examples[reason]) for reason, count in reasons.most_common(limit)]

    def target_misses(self) -> list[str]:
        misses = []
        if self.failed_flows:
            misses.append(f"{self.failed_flows} failed flows")
        checks = (
            ("create p99", percentile(self.latencies("create_ms"), 0.99), TARGET_CREATE_P99_MS),
            ("poll p99", percentile(self.latencies("poll_ms"), 0.99), TARGET_POLL_P99_MS),
            ("overhead p99", percentile(self.overheads_ms, 0.99), TARGET_OVERHEAD_P99_MS),
        )
        for name, value, limit in checks:
            if not value < limit:
                misses.append(f"{name} {value:.0f} ms")
        if not self.sampler.peak_worker_pss_bytes < TARGET_WORKER_PSS_BYTES:
            misses.append(f"worker PSS {self.sampler.peak_worker_pss_bytes / 2**20:.0f} MiB")
        return misses


async def _run_phones(
    base_url: str,
    photos: Sequence[bytes],
    redis_url: str,
    queue_name: str,
    sampler: Sampler,
    kill: KillPlan | None,
) -> tuple[list[PhoneRecord], float, list[str]]:
    rng = random.Random(len(photos))
    stop_sampling = asyncio.Event()
    killed: list[str] = []
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S, connect=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        phones = [Phone(session, base_url, photo, rng) for photo in photos]
        spacing_s = ARRIVAL_WINDOW_S / len(phones)

        async def arrive(index: int, phone: Phone) -> None:
            await asyncio.sleep(index * spacing_s)
            await phone.run()

        async def kill_later(plan: KillPlan) -> None:
            await asyncio.sleep(plan.after_s)
            for name, pid in plan.pids.items():
                os.kill(pid, signal.SIGKILL)
                killed.append(f"{name} (pid {pid}) at {plan.after_s:.0f} s")
            plan.done_at = time.time()

        sampling = asyncio.create_task(sampler.run(redis_url, queue_name, stop_sampling))
        killing = asyncio.create_task(kill_later(kill)) if kill is not None else None
        began = time.perf_counter()
        flows = [asyncio.create_task(arrive(index, phone)) for index, phone in enumerate(phones)]
        try:
            _, unfinished = await asyncio.wait(flows, timeout=RUN_TIME_LIMIT_S)
            for flow in unfinished:
                flow.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        finally:
            wall_s = time.perf_counter() - began
            stop_sampling.set()
            await sampling
            if killing is not None:
                killing.cancel()
        for flow in flows:
            if not flow.cancelled() and (error := flow.exception()) is not None:
                raise error
    for phone in phones:
        if phone.record.final_status is None and phone.record.failure is None:
            phone.record.failure = f"stopped at the run's time limit of {RUN_TIME_LIMIT_S:.0f} s"
    return [phone.record for phone in phones], wall_s, killed


def start_phone_stack(log_dir: Path, nginx: str) -> tuple[LocalStack, NginxBalancer]:
    stack = LocalStack(log_dir, extra_env={"AI_PROVIDER": "simulated", "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY)})
    balancer: NginxBalancer | None = None
    try:
        stack.start_infrastructure()
        stack.load_bins()
        for _ in range(API_COPIES):
            stack.start_api()
        for _ in range(WORKER_PROCESSES):
            stack.start_worker()
        ports = [service.port for service in stack.apis]  # type: ignore[attr-defined]
        balancer = NginxBalancer(nginx, ports, log_path=log_dir / "nginx.log").start()
        wait_for_workers(stack.redis_url, WORKER_PROCESSES)
    except BaseException:
        if balancer is not None:
            balancer.stop()
        stack.stop()
        raise
    return stack, balancer


def wait_for_workers(redis_url: str, count: int) -> None:
    connection = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: connection.zcard(keys.WORKERS_ALIVE_KEY) >= count, 60, f"{count} workers")
    finally:
        connection.close()


def child_pids(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except FileNotFoundError:
        return []


def watched_processes(stack: LocalStack, balancer: NginxBalancer) -> dict[str, int]:
    processes = {service.name: service.pid for service in [*stack.apis, *stack.workers]}
    for service in (stack.redis, stack.s3):
        if service is not None:
            processes[service.name] = service.pid
    processes["nginx-master"] = balancer.pid
    for index, pid in enumerate(child_pids(balancer.pid)):
        processes[f"nginx-{index}"] = pid
    return processes


def phone_scenario(nginx: str, log_dir: Path, photos: Sequence[bytes], kill: bool = False) -> ScenarioResult:
    stack, balancer = start_phone_stack(log_dir, nginx)
    try:
        plan = None
        if kill:
            plan = KillPlan(KILL_AFTER_S, {"api-0": stack.apis[0].pid, "worker-0": stack.workers[0].pid})
        sampler = Sampler(watched_processes(stack, balancer))
        cpu_before = cpu_seconds()
        records, wall_s, killed = uvloop.run(_run_phones(balancer.url, photos, stack.redis_url, QUEUE_NAME, sampler, plan))
        cpu_s = cpu_seconds() - cpu_before
        read_rq_times(stack.redis_url, records)
    finally:
        balancer.stop()
        stack.stop()
    killed_at = plan.done_at if plan is not None else None
    return ScenarioResult(len(photos), records, sampler, wall_s, cpu_s, killed, count_logged_recoveries(log_dir), killed_at)


def _rq_timestamp(raw: bytes | None) -> float | None:
    """Parse a time that RQ wrote into a job hash (`2026-12-04T23:51:23.137000Z`, UTC)."""
    if not raw:
        return None
    return dt.datetime.strptime(raw.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC).timestamp()


def read_rq_times(redis_url: str, records: Sequence[PhoneRecord]) -> None:
    """Fill each finished record's `rq_times` from its RQ job hash: enqueued, started and ended."""
    finished = [record for record in records if record.job_id is not None and record.end_to_end_s is not None]
    connection = redis.Redis.from_url(redis_url)
    try:
        with connection.pipeline(transaction=False) as pipe:
            for record in finished:
                pipe.hmget(keys.job_key(record.job_id), "enqueued_at", "started_at", "ended_at")  # type: ignore[arg-type]
            replies = pipe.execute()
    finally:
        connection.close()
    for record, reply in zip(finished, replies):
        times = [_rq_timestamp(value) for value in reply]
        if None not in times:
            record.rq_times = (times[0], times[1], times[2])  # type: ignore[assignment]


def count_logged_recoveries(log_dir: Path) -> int:
    """Count the reaper's log lines in the worker logs, one per job it took from a lost worker."""
    # The line jobs/supervision.py logs for every job it retries or fails as `worker_lost`.
    marker = "job recovered from a lost worker"
    return sum(path.read_text(errors="replace").count(marker) for path in log_dir.glob("worker-*.log"))


# --- the report ---------------------------------------------------------------


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def micro_table(results: list[HttpLoadResult], duration_s: int) -> list[str]:
    ours, floor = results
    lines = [
        f"## Poll micro-benchmark: 1 uvicorn process, {MICRO_CONNECTIONS} connections, {duration_s} s, {ours.tool}",
        "",
        "| app | requests | req/s | p50 ms | p99 ms | errors | server CPU µs/request |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.requests} | {result.requests_per_s:.0f} | {_ms(result.p50_ms)} "
            f"| {_ms(result.p99_ms)} | {result.errors} | {result.server_cpu_us_per_request:.0f} |"
        )
    rate_ratio = ours.requests_per_s / floor.requests_per_s
    p99_ratio = ours.p99_ms / floor.p99_ms
    rate_met = "met" if rate_ratio >= TARGET_POLL_RPS_RATIO else "MISSED"
    p99_met = "met" if p99_ratio <= TARGET_POLL_P99_RATIO else "MISSED"
    lines += [
        "",
        f"Ours against the baseline: req/s {rate_ratio:.0%} (target at least {TARGET_POLL_RPS_RATIO:.0%}: {rate_met}), "
        f"p99 {p99_ratio:.2f}x (target at most {TARGET_POLL_P99_RATIO}x: {p99_met}).",
    ]
    return lines


def scenario_row(result: ScenarioResult) -> str:
    misses = result.target_misses()
    return (
        f"| {result.phones} | {result.failed_flows} | {sum(record.failed_requests for record in result.records)} "
        f"| {_ms(percentile(result.latencies('create_ms'), 0.99))} "
        f"| {_ms(percentile(result.latencies('upload_ms'), 0.99))} | {_ms(percentile(result.latencies('start_ms'), 0.99))} "
        f"| {_ms(percentile(result.latencies('poll_ms'), 0.5))} | {_ms(percentile(result.latencies('poll_ms'), 0.99))} "
        f"| {_ms(percentile(result.overheads_ms, 0.5))} | {_ms(percentile(result.overheads_ms, 0.99))} "
        f"| {result.api_responses_per_s:.0f} | {result.sampler.peak_in_flight_jobs} | {result.sampler.peak_queued_jobs} "
        f"| {result.sampler.peak_worker_pss_bytes / 2**20:.0f} | {sum(r.cache_hit for r in result.records)} "
        f"| {'met' if not misses else 'missed: ' + ', '.join(misses)} |"
    )


def scenario_table(results: list[ScenarioResult]) -> list[str]:
    return [
        f"## Phone scenario: {API_COPIES} API copies behind nginx, {WORKER_PROCESSES} workers x {WORKER_CONCURRENCY} "
        f"threads, simulated AI, arrivals over {ARRIVAL_WINDOW_S:.0f} s",
        "",
        "| phones | failed flows | failed requests | create p99 ms | upload p99 ms | start p99 ms | poll p50 ms | poll p99 ms "
        "| overhead p50 ms | overhead p99 ms | API req/s | peak in-flight jobs | peak queued | worker PSS MiB "
        "| cache hits | targets |",
        "|" + "---:|" * 15 + "---|",
        *(scenario_row(result) for result in results),
        "",
        "Failed requests are requests a phone repeated: failed polls, retried creates and starts, and retried "
        "uploads to storage. API req/s "
        "counts the responses the phones received from the API per second of the run. "
        "Overhead is each phone's time from create to seeing `finished`, minus the job's simulated AI time "
        "(`timings_ms` vision + feedback); it includes up to one poll interval (0.5 s). Targets: zero failed flows, "
        f"create p99 < {TARGET_CREATE_P99_MS:.0f} ms, poll p99 < {TARGET_POLL_P99_MS:.0f} ms, overhead p99 < "
        f"{TARGET_OVERHEAD_P99_MS:.0f} ms, worker PSS < {TARGET_WORKER_PSS_BYTES / 2**30:.1f} GiB. "
        "Latencies are measured by the load generator, in the same process for all phones.",
    ]


OVERHEAD_PARTS = ("create, upload, start", "waiting in the queue", "worker, besides the AI", "until the next poll sees it")


def overhead_table(results: list[ScenarioResult]) -> list[str]:
    lines = [
        "## Where the overhead goes (ms, p50 / p99 of each part)",
        "",
        "| phones | " + " | ".join(OVERHEAD_PARTS) + " | worker PSS per in-flight job |",
        "|---:|" + "---:|" * (len(OVERHEAD_PARTS) + 1),
    ]
    for result in results:
        parts = result.overhead_parts_ms()
        cells = [f"{_ms(percentile(parts[name], 0.5))} / {_ms(percentile(parts[name], 0.99))}" for name in OVERHEAD_PARTS]
        sampler = result.sampler
        idle = sampler.idle_worker_pss_bytes or 0
        per_job = (sampler.peak_worker_pss_bytes - idle) / sampler.peak_in_flight_jobs if sampler.peak_in_flight_jobs else math.nan
        lines.append(f"| {result.phones} | " + " | ".join(cells) + f" | {per_job / 2**20:.1f} MiB |")
    lines += [
        "",
        "Phones whose job finished on its first attempt. The parts come from the phone's clock and from the times "
        "RQ wrote into the job hash (queued, started, ended), on the same machine. `until the next poll sees it` "
        "includes waiting for the next 0.5 s tick. p99s of the parts do not add up to the p99 of the whole. PSS per "
        "in-flight job is (peak worker PSS - worker PSS at the first sample) / peak in-flight jobs.",
    ]
    return lines


CPU_COMPONENTS = ("api", "worker", "nginx", "redis", "s3")


def cpu_table(results: list[ScenarioResult]) -> list[str]:
    lines = [
        "## Where the CPU went during each run (CPU seconds)",
        "",
        "| run | wall s | " + " | ".join(CPU_COMPONENTS) + " | load generator | total | share of all cores "
        "| ms per phone, all | ms per phone, api + worker |",
        "|---|" + "---:|" * (len(CPU_COMPONENTS) + 6),
    ]
    for result in results:
        by_component = result.sampler.cpu_seconds_by_component()
        used = [by_component.get(component, 0.0) for component in CPU_COMPONENTS]
        total = sum(used) + result.load_generator_cpu_s
        share = total / (result.wall_s * (os.cpu_count() or 1))
        ours = by_component.get("api", 0.0) + by_component.get("worker", 0.0)
        label = f"{result.phones} phones" + (" (kill test)" if result.killed else "")
        lines.append(
            f"| {label} | {result.wall_s:.1f} | " + " | ".join(f"{value:.1f}" for value in used)
            + f" | {result.load_generator_cpu_s:.1f} | {total:.1f} | {share:.0%} "
            f"| {total / result.phones * 1000:.0f} | {ours / result.phones * 1000:.0f} |"
        )
    lines += [
        "",
        "The load generator (all phones, one process with aiohttp on uvloop) measures its own CPU time with "
        "getrusage; the servers are read from /proc. `s3` is moto's S3 app (scripts/s3_server.py), the local "
        "stand-in for S3. Phones arrive over the first 10 s, so the CPU the share column spreads over the whole "
        "run is mostly needed in those 10 s.",
    ]
    return lines


def kill_table(result: ScenarioResult) -> list[str]:
    records = result.records
    lines = [
        f"## Kill test: {result.phones} phones, SIGKILL of {' and '.join(result.killed) or 'nothing (the kill did not run)'}",
        "",
        "| phones | failed flows | recovered jobs | finished on attempt 2 | failed with worker_lost "
        "| recoveries in worker logs | create retries | start retries | failed polls | overhead p99 ms | slowest flow s "
        "| last recovered job ended, s after the kill |",
        "|" + "---:|" * 12,
        f"| {result.phones} | {result.failed_flows} | {result.recovered_jobs} "
        f"| {sum(r.attempt >= 2 and r.final_status == JobStatus.FINISHED.value for r in records)} "
        f"| {sum(r.error_code == 'worker_lost' for r in records)} | {result.recoveries_logged} "
        f"| {sum(r.create_retries for r in records)} "
        f"| {sum(r.start_retries for r in records)} | {sum(r.poll_failures for r in records)} "
        f"| {_ms(percentile(result.overheads_ms, 0.99))} "
        f"| {max((r.end_to_end_s for r in records if r.end_to_end_s is not None), default=math.nan):.1f} "
        f"| {result.slowest_recovery_s:.1f} |",
    ]
    return lines


def failure_lines(results: list[ScenarioResult]) -> list[str]:
    lines = []
    for result in results:
        for reason, count, job_id in result.failure_reasons():
            run = f"{result.phones} phones" + (" (kill test)" if result.killed else "")
            lines.append(f"- {run}: {count} x {reason}; for example job {job_id or '(not created)'}")
    return ["", "Failed flows:", *lines] if lines else []


def machine_line(load_before: tuple[float, float, float], elapsed_s: float) -> str:
    load_after = os.getloadavg()
    return (
        f"Machine: {os.cpu_count()} cores; load average (1 min) {load_before[0]:.1f} before and {load_after[0]:.1f} "
        f"after the benchmark; whole run {elapsed_s:.0f} s. A load average above zero before the start means "
        "other work shared the machine."
    )


# --- main -----------------------------------------------------------------------


def search_phone_counts(
    counts: Sequence[int], run: Callable[[int], ScenarioResult], goal: int | None = None
) -> list[ScenarioResult]:
    """Run the counts in ascending order up to the first that misses a target, then one count halfway back.

    `goal`, when given and among `counts`, is run as well if the search stopped before it.
    """
    results: list[ScenarioResult] = []
    for count in counts:
        results.append(run(count))
        if results[-1].target_misses():
            break
    passing = [result.phones for result in results if not result.target_misses()]
    failing = [result.phones for result in results if result.target_misses()]
    if passing and failing:
        halfway = round((max(passing) + min(failing)) / 2 / SEARCH_STEP) * SEARCH_STEP
        if max(passing) < halfway < min(failing):
            results.append(run(halfway))
    if goal is not None and goal in counts and goal not in {result.phones for result in results}:
        results.append(run(goal))
    return sorted(results, key=lambda result: result.phones)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_PHONE_COUNT} phones and a 3 s micro-benchmark")
    parser.add_argument(
        "--phones",
        help="comma-separated phone counts, tried in ascending order up to the first that misses a target "
        "(default 100,300,500,700,1000)",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH, help="markdown file for the table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    load_before = os.getloadavg()
    began = time.monotonic()
    if arguments.phones:
        counts = sorted(int(part) for part in arguments.phones.split(","))
    else:
        counts = [QUICK_PHONE_COUNT] if arguments.quick else list(PHONE_COUNTS)
    micro_duration_s = 3 if arguments.quick else 10

    wrk = ensure_debian_tool("wrk", "wrk")
    if wrk is None:
        print("*** wrk is unavailable: the micro-benchmark uses aiohttp in this process instead ***", file=sys.stderr)
    nginx = ensure_debian_tool("nginx", "nginx")
    if nginx is None:
        print("nginx is unavailable and could not be installed: install the Debian package `nginx`", file=sys.stderr)
        return 2

    print(f"making {max(counts)} phone photos ...", flush=True)
    photos = phone_photos(max(counts))
    log_root = Path(tempfile.mkdtemp(prefix="bench-load-"))
    print(f"logs in {log_root}", flush=True)

    print(f"poll micro-benchmark, {micro_duration_s} s per app ...", flush=True)
    micro = poll_microbenchmark(wrk, log_root / "micro", micro_duration_s, photos[0])

    def run_phones(count: int) -> ScenarioResult:
        print(f"phone scenario with {count} phones ...", flush=True)
        result = phone_scenario(nginx, log_root / f"phones-{count}", photos[:count])
        print(scenario_row(result), flush=True)
        return result

    scenarios = search_phone_counts(counts, run_phones, goal=GOAL_PHONE_COUNT)
    passing = [result.phones for result in scenarios if not result.target_misses()]
    kill_count = max(passing) if passing else counts[0]
    print(f"kill test with {kill_count} phones ...", flush=True)
    killed = phone_scenario(nginx, log_root / f"kill-{kill_count}", photos[:kill_count], kill=True)

    largest = f"{max(passing)} phones" if passing else "none of the counts tried"
    lines = [
        "# Load benchmark",
        "",
        *micro_table(micro, micro_duration_s),
        "",
        *scenario_table(scenarios),
        "",
        *overhead_table(scenarios),
        "",
        f"Largest count that met every target: {largest}.",
        "",
        *kill_table(killed),
        *failure_lines([*scenarios, killed]),
        "",
        *cpu_table([*scenarios, killed]),
        "",
        machine_line(load_before, time.monotonic() - began),
        "",
    ]
    report = "\n".join(lines)
    print()
    print(report)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report)
    print(f"written to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
