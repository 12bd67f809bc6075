"""An RQ worker that runs many jobs at once in one process.

A job spends most of its life waiting on the network (storage, the AI APIs),
so forking a process per job, as RQ's default worker does, wastes memory.
`ConcurrentWorker` keeps RQ's model (jobs are RQ jobs, the started/finished/
failed registries and executions are RQ's own) but runs each job's
`perform_job` on a thread pool, up to `WORKER_CONCURRENCY` at a time.

Run it with `python -m jobs.worker`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.worker import SimpleWorker, WorkerStatus

from jobs.connection import connect_redis, wait_for_redis
from jobs.context import build_context, install_context
from jobs.settings import load_settings_or_exit

logger = logging.getLogger(__name__)


class ConcurrentWorker(SimpleWorker):
    # SIGALRM, RQ's default timeout, only interrupts the main thread; the timer
    # penalty raises the timeout inside the job's own thread.
    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args: object, concurrency: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rq-job")
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> tuple[Job, Queue] | None:
        # Take a job off the queue only when a thread is free for it, so that a
        # queued job never waits inside a busy worker while another one idles.
        while not self._slots.acquire(timeout=1.0):
            self.heartbeat()
        try:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except BaseException:
            self._slots.release()
            raise
        if result is None:
            self._slots.release()
        elif self._in_flight:
            # RQ's dequeue marks the worker idle; with jobs still running it is not.
            self.set_state(WorkerStatus.BUSY)
        return result

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        with self._in_flight_lock:
            self._in_flight += 1
        self._pool.submit(self._perform_in_thread, job, queue, execution)

    def _perform_in_thread(self, job: Job, queue: Queue, execution: object) -> None:
        try:
            self.perform_job(job, queue, execution)  # type: ignore[arg-type]
        except Exception:
            logger.exception("worker thread failed outside the job job_id=%s", job.id)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1
                idle = self._in_flight == 0
            self._slots.release()
            if idle:
                self.set_state(WorkerStatus.IDLE)

    def _shutdown(self) -> None:
        # RQ's warm shutdown looks at the state of its single job; here any job
        # in flight means: stop taking jobs and let the running ones finish.
        if self._in_flight:
            self._state = WorkerStatus.BUSY
        super()._shutdown()

    def teardown(self) -> None:
        if self._in_flight:
            logger.info("worker stopping: waiting for %d jobs in flight", self._in_flight)
        self._pool.shutdown(wait=True)
        super().teardown()


def main() -> None:
    settings = load_settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    connection = connect_redis(settings)
    wait_for_redis(connection, timeout_s=60)
    context = build_context(settings, connection)
    install_context(context)
    queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    worker = ConcurrentWorker(
        [queue],
        connection=connection,
        serializer=JSONSerializer,
        concurrency=settings.worker_concurrency,
        # RQ's description repeats the job arguments; log job ids only.
        log_job_description=False,
    )
    logger.info("worker starting name=%s queue=%s concurrency=%d", worker.name, queue.name, worker.concurrency)
    worker.work(logging_level=settings.log_level)


if __name__ == "__main__":
    main()
