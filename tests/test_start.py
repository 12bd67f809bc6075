"""POST /jobs/{id}/start and the calls behind it: the storage check and the enqueue.

The storage tests run against the local S3 server (moto) to pin down what a
ranged GET returns for a missing, empty, short or large object. The lifecycle
tests use a queue of their own, so no worker of the session's stack takes
their jobs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import msgspec
import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs import keys
from jobs.connection import connect_redis
from jobs.documents import JobRequest, JobState
from jobs.errors import DependencyError, RequestError
from jobs.imaging import SNIFF_BYTES
from jobs.lifecycle import JobLifecycle, new_job_id
from jobs.messages import Messages
from jobs.progress import read_state
from jobs.settings import Settings, load_settings
from jobs.stages import JobStatus
from jobs.storage import PhotoStorage, object_key
from scripts.local_services import free_port
from scripts.phone import PhoneClient
from scripts.stack import LocalStack
from tests.conftest import photo_bytes
from tests.test_bad_input import object_exists

JPEG = "naver/2.jpg"


@pytest.fixture(scope="module")
def settings(infrastructure: LocalStack) -> Settings:
    return load_settings(infrastructure.env(QUEUE_NAME=f"start-tests-{uuid.uuid4().hex[:8]}"))


@pytest.fixture(scope="module")
def storage(settings: Settings) -> PhotoStorage:
    storage = PhotoStorage(settings)
    storage.ensure_bucket()
    return storage


@pytest.fixture(scope="module")
def connection(settings: Settings) -> Iterator[redis.Redis]:
    connection = connect_redis(settings)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def lifecycle(connection: redis.Redis, settings: Settings) -> JobLifecycle:
    return JobLifecycle(connection, settings, Messages.load())


def put_object(storage: PhotoStorage, data: bytes) -> str:
    key = object_key(new_job_id())
    storage.write(key, data, "image/jpeg")
    return key


def create_job(lifecycle: JobLifecycle) -> str:
    job_id = new_job_id()
    lifecycle.create(job_id, object_key(job_id), "ko", None, None)
    return job_id


# --- PhotoStorage.read_head ---------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xd8\xff", id="shorter-than-sniff"),
        pytest.param(bytes(range(SNIFF_BYTES)), id="exactly-sniff"),
        pytest.param(bytes(range(256)) * 4, id="longer-than-sniff"),
    ],
)
def test_read_head_returns_size_and_head(storage: PhotoStorage, data: bytes) -> None:
    key = put_object(storage, data)

    head = storage.read_head(key, SNIFF_BYTES)

    assert head is not None
    assert head.size == len(data)
    assert head.head == data[:SNIFF_BYTES]


def test_read_head_empty_object_size_zero(storage: PhotoStorage) -> None:
    key = put_object(storage, b"")

    head = storage.read_head(key, SNIFF_BYTES)

    assert head is not None
    assert head.size == 0
    assert head.head == b""


def test_read_head_missing_object_none(storage: PhotoStorage) -> None:
    assert storage.read_head(object_key(new_job_id()), SNIFF_BYTES) is None


def test_read_head_missing_bucket_unavailable(infrastructure: LocalStack) -> None:
    storage = PhotoStorage(load_settings(infrastructure.env(S3_BUCKET="no-such-bucket")))

    with pytest.raises(DependencyError) as raised:
        storage.read_head(object_key(new_job_id()), SNIFF_BYTES)

    assert raised.value.code == "storage_unavailable"


def test_read_head_stopped_store_unavailable(infrastructure: LocalStack) -> None:
    # Nothing listens on a port that was free a moment ago, so the connection is refused.
    storage = PhotoStorage(load_settings(infrastructure.env(S3_ENDPOINT=f"http://127.0.0.1:{free_port()}")))

    with pytest.raises(DependencyError) as raised:
        storage.read_head(object_key(new_job_id()), SNIFF_BYTES)

    assert raised.value.code == "storage_unavailable"


def test_read_head_reuses_no_stale_body(storage: PhotoStorage) -> None:
    """A second read on the same pooled client gets its own object's bytes."""
    first = put_object(storage, b"A" * 100)
    second = put_object(storage, b"B" * 100)

    heads = [storage.read_head(key, SNIFF_BYTES) for key in (first, second, first)]

    assert [head.head if head else None for head in heads] == [b"A" * 32, b"B" * 32, b"A" * 32]


class RangeStore(BaseHTTPRequestHandler):
    """A local S3 stand-in for GETs.

    A key ending in `partial` gets the requested range, any other key the whole object.
    """

    protocol_version = "HTTP/1.1"
    object_size = 1024 * 1024
    connections = 0

    def setup(self) -> None:
        super().setup()
        RangeStore.connections += 1

    def handle(self) -> None:
        # A client that closes with the body unread resets the connection.
        try:
            super().handle()
        except ConnectionResetError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = b"\xff\xd8\xff" + b"\0" * (self.object_size - 3)
        if self.path.endswith("/partial"):
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{SNIFF_BYTES - 1}/{self.object_size}")
            body = body[:SNIFF_BYTES]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def range_store(infrastructure: LocalStack) -> Iterator[PhotoStorage]:
    RangeStore.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), RangeStore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PhotoStorage(load_settings(infrastructure.env(S3_ENDPOINT=f"http://127.0.0.1:{server.server_port}")))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_read_head_reuses_connection_after_range(range_store: PhotoStorage) -> None:
    heads = [range_store.read_head("uploads/partial", SNIFF_BYTES) for _ in range(3)]

    assert [head.size if head else None for head in heads] == [RangeStore.object_size] * 3
    assert [head.head if head else None for head in heads] == [b"\xff\xd8\xff" + b"\0" * (SNIFF_BYTES - 3)] * 3
    assert RangeStore.connections == 1


def test_read_head_store_ignoring_range(range_store: PhotoStorage) -> None:
    head = range_store.read_head("uploads/whole", SNIFF_BYTES)
    again = range_store.read_head("uploads/whole", SNIFF_BYTES)

    assert head is not None
    assert head.size == RangeStore.object_size
    assert head.head == b"\xff\xd8\xff" + b"\0" * (SNIFF_BYTES - 3)
    assert again is not None
    assert again.head == head.head


# --- JobLifecycle: the reads and the enqueue behind start -------------------------


def test_request_awaiting_upload_returns_request(lifecycle: JobLifecycle) -> None:
    job_id = create_job(lifecycle)

    request = lifecycle.request_awaiting_upload(job_id)

    assert isinstance(request, JobRequest)
    assert request.job_id == job_id
    assert request.object_key == object_key(job_id)


def test_request_awaiting_upload_is_none_once_queued(lifecycle: JobLifecycle) -> None:
    job_id = create_job(lifecycle)
    lifecycle.enqueue(job_id)

    assert lifecycle.request_awaiting_upload(job_id) is None


@pytest.mark.parametrize(("tombstone", "code"), [(False, "job_not_found"), (True, "job_expired")])
def test_request_awaiting_upload_missing_job_404(
    lifecycle: JobLifecycle, connection: redis.Redis, tombstone: bool, code: str
) -> None:
    job_id = new_job_id()
    if tombstone:
        connection.set(keys.tombstone_key(job_id), "1", ex=60)

    with pytest.raises(RequestError) as raised:
        lifecycle.request_awaiting_upload(job_id)

    assert raised.value.code == code
    assert raised.value.http_status == 404


def test_enqueue_writes_state_through_rq(
    lifecycle: JobLifecycle, connection: redis.Redis, settings: Settings
) -> None:
    job_id = create_job(lifecycle)
    counter_before = int(connection.get(keys.enqueued_count_key(settings.queue_name)) or 0)

    state = lifecycle.enqueue(job_id)

    stored = read_state(connection, job_id)
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    assert state.status == JobStatus.QUEUED
    assert state.queue_sequence == counter_before + 1
    assert stored == state
    assert msgspec.convert(job.meta, JobState) == state
    assert job.get_status() == "queued"
    assert job.args[0]["object_key"] == object_key(job_id)
    assert job_id in queue.job_ids
    assert queue.name in [registered.name for registered in Queue.all(connection=connection)]


def test_enqueue_twice_queues_once(lifecycle: JobLifecycle, connection: redis.Redis, settings: Settings) -> None:
    job_id = create_job(lifecycle)
    first = lifecycle.enqueue(job_id)
    counter_after_first = int(connection.get(keys.enqueued_count_key(settings.queue_name)) or 0)

    again = lifecycle.enqueue(job_id)

    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    assert again == first
    assert int(connection.get(keys.enqueued_count_key(settings.queue_name)) or 0) == counter_after_first
    assert queue.job_ids.count(job_id) == 1


def test_enqueue_after_lock_expiry_queues_once(
    lifecycle: JobLifecycle, connection: redis.Redis, settings: Settings
) -> None:
    """With the start lock gone, the state read after the lock still stops a second enqueue."""
    job_id = create_job(lifecycle)
    first = lifecycle.enqueue(job_id)
    connection.delete(keys.started_key(job_id))

    again = lifecycle.enqueue(job_id)

    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    assert again == first
    assert queue.job_ids.count(job_id) == 1


def test_concurrent_enqueues_queue_once(lifecycle: JobLifecycle, connection: redis.Redis, settings: Settings) -> None:
    job_id = create_job(lifecycle)
    counter_before = int(connection.get(keys.enqueued_count_key(settings.queue_name)) or 0)
    barrier = threading.Barrier(8)
    states: list[JobState] = []

    def start() -> None:
        barrier.wait()
        states.append(lifecycle.enqueue(job_id))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    assert len(states) == 8
    assert {state.status for state in states} <= {JobStatus.AWAITING_UPLOAD, JobStatus.QUEUED}
    assert len({state.queue_sequence for state in states if state.status == JobStatus.QUEUED}) == 1
    assert int(connection.get(keys.enqueued_count_key(settings.queue_name)) or 0) == counter_before + 1
    assert queue.job_ids.count(job_id) == 1


def test_enqueue_canceled_job_stays_canceled(
    lifecycle: JobLifecycle, connection: redis.Redis, settings: Settings
) -> None:
    job_id = create_job(lifecycle)
    lifecycle.cancel(job_id)

    state = lifecycle.enqueue(job_id)

    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    assert state.status == JobStatus.CANCELED
    assert job_id not in queue.job_ids


# --- POST /jobs/{id}/start over HTTP -----------------------------------------------


def test_start_short_jpeg_upload_queued(phone: PhoneClient) -> None:
    """An upload shorter than the sniffed head is queued, and the worker then finds it unreadable."""
    created = phone.create()
    phone.upload(created["upload"], b"\xff\xd8\xff\xe0")

    response = phone.start(created["job_id"])
    documents = phone.poll(created["status_url"])

    assert response.status_code == 202
    assert response.json()["status"] in ("queued", "started", "failed")
    assert documents[-1]["status"] == "failed"
    assert documents[-1]["error"]["code"] == "image_unreadable"


def test_start_short_non_image_415(stack: LocalStack, phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()
    phone.upload(created["upload"], b"hi")

    response = phone.start(created["job_id"])
    status = api.get(created["status_url"]).json()

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_image"
    assert status["status"] == "failed"
    assert status["error"]["code"] == "unsupported_image"
    assert not object_exists(stack, created["job_id"])


def test_start_empty_upload_422(stack: LocalStack, phone: PhoneClient, api: httpx.Client) -> None:
    created = phone.create()
    phone.upload(created["upload"], b"")

    response = phone.start(created["job_id"])
    status = api.get(created["status_url"]).json()

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "upload_empty"
    assert status["status"] == "awaiting_upload"
    assert not object_exists(stack, created["job_id"])


def test_start_retry_after_missing_upload(phone: PhoneClient) -> None:
    """A 409 leaves no start lock behind, so the phone can upload and start again at once."""
    created = phone.create()
    missing = phone.start(created["job_id"])
    phone.upload(created["upload"], photo_bytes(JPEG))

    retried = phone.start(created["job_id"])

    assert missing.status_code == 409
    assert missing.json()["error"]["code"] == "upload_missing"
    assert retried.status_code == 202
    assert retried.json()["status"] in ("queued", "started", "finished")


def test_start_with_storage_down_is_503(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    assert fresh_stack.s3 is not None
    with fresh_stack.client() as api:
        phone = PhoneClient(api)
        created = phone.create()
        phone.upload(created["upload"], photo_bytes(JPEG))
        fresh_stack.s3.stop()

        response = phone.start(created["job_id"])
        status = api.get(created["status_url"]).json()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert status["status"] == "awaiting_upload"


def test_start_with_redis_down_is_503(fresh_stack: LocalStack) -> None:
    fresh_stack.start_api()
    assert fresh_stack.redis is not None
    with fresh_stack.client() as api:
        phone = PhoneClient(api)
        created = phone.create()
        phone.upload(created["upload"], photo_bytes(JPEG))
        fresh_stack.redis.stop()

        started_at = time.monotonic()
        response = phone.start(created["job_id"])

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "queue_unavailable"
    assert time.monotonic() - started_at < 10
