"""An RQ worker that runs many jobs at once in one process.

A job spends most of its life waiting on the network (storage, the AI APIs),
so forking a process per job, as RQ's default worker does, wastes memory.
`ConcurrentWorker` keeps RQ's model (jobs are RQ jobs; the started, finished
and failed registries and the executions are RQ's own) but runs each job's
`perform_job` on a thread pool, up to `WORKER_CONCURRENCY` at a time.

Run it with `python -m jobs.worker`.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import msgspec
import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.exceptions import StopRequested
from rq.worker import SimpleWorker, WorkerStatus

from jobs.connection import connect_redis, wait_for_redis
from jobs.context import build_context, install_context
from jobs.messages import Messages
from jobs.pipeline import warm_up
from jobs.progress import read_state, utc_now_iso, write_state
from jobs.settings import Settings, load_settings_or_exit
from jobs.stages import JobStatus, Stage
from jobs.supervision import EXECUTION_TTL_S, Supervisor

logger = logging.getLogger(__name__)

DEQUEUE_TIMEOUT_S = 5


class ConcurrentWorker(SimpleWorker):
    # SIGALRM, RQ's default timeout, only interrupts the main thread; the timer
    # penalty raises the timeout inside the job's own thread.
    death_penalty_class = TimerDeathPenalty

    def __init__(
        self, *args: object, concurrency: int, messages: Messages, shutdown_grace_s: float, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.concurrency = concurrency
        self._messages = messages
        self._shutdown_grace_s = shutdown_grace_s
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rq-job")
        self._running: dict[str, Job] = {}
        self._running_lock = threading.Lock()
        self._supervisor: Supervisor | None = None

    @property
    def dequeue_timeout(self) -> int:
        # RQ waits up to 405 s in one BLMOVE. A short wait keeps it far inside the
        # socket timeout (jobs/connection.py) and brings the loop back to its
        # heartbeat and stop checks often.
        return DEQUEUE_TIMEOUT_S

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def stop_requested(self) -> bool:
        """Whether SIGTERM or SIGINT asked this worker to stop (RQ records it in memory)."""
        return self._stop_requested or self._shutdown_requested_date is not None

    def in_flight_executions(self) -> list[Execution]:
        return list(self.executions.values())

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # Short on purpose: the supervisor refreshes it, so an execution outlives
        # its worker by at most EXECUTION_TTL_S.
        return EXECUTION_TTL_S

    def bootstrap(self, *args: object, **kwargs: object) -> None:
        super().bootstrap(*args, **kwargs)  # type: ignore[arg-type]
        queue = self.queues[0]
        self._supervisor = Supervisor(self.connection, queue, self._messages, self, self.in_flight_executions)
        self._supervisor.beat()
        self._supervisor.start()

    def subscribe(self) -> None:
        # RQ's pub/sub channel carries its kill-horse and stop-job commands, which
        # assume one forked job. Jobs here are canceled through DELETE /jobs/{id};
        # without the listener thread, shutdown also cannot hang closing it.
        return None

    def unsubscribe(self) -> None:
        return None

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> tuple[Job, Queue] | None:
        # Take a job off the queue only when a thread is free for it, so that a
        # queued job never waits inside a busy worker while another one idles.
        while not self._slots.acquire(timeout=1.0):
            if self._stop_requested:
                return None
        try:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except BaseException:
            self._slots.release()
            raise
        if result is None:
            self._slots.release()
        elif self._running:
            # RQ's dequeue marks the worker idle; with jobs still running it is not.
            self.set_state(WorkerStatus.BUSY)
        return result

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        with self._running_lock:
            self._running[job.id] = job
        self._pool.submit(self._perform_in_thread, job, queue, execution)

    def _perform_in_thread(self, job: Job, queue: Queue, execution: Execution) -> None:
        try:
            self.perform_job(job, queue, execution)
        except Exception:
            logger.exception("worker thread failed outside the job job_id=%s", job.id)
        finally:
            with self._running_lock:
                self._running.pop(job.id, None)
                idle = not self._running
            self._slots.release()
            if idle:
                self.set_state(WorkerStatus.IDLE)

    def _shutdown(self) -> None:
        # RQ waits for its single job by letting the loop run on; here the main
        # thread may sit in a blocking dequeue, so leave the loop at once and
        # let teardown() wait for the jobs still running on the pool.
        self._stop_requested = True
        raise StopRequested()

    def teardown(self) -> None:
        deadline = time.monotonic() + self._shutdown_grace_s
        if self._running:
            logger.info("worker stopping: waiting up to %.0f s for %d jobs", self._shutdown_grace_s, len(self._running))
        while self._running and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._supervisor is not None:
            self._supervisor.stop()
            self._supervisor.leave()
        handed_back = self._hand_back_running()
        if handed_back:
            # The job threads cannot be stopped from outside and their jobs are
            # queued again, so the process ends now, before any of them writes.
            self.register_death()
            logger.info("worker stopped, handed back %d jobs", handed_back)
            logging.shutdown()
            os._exit(0)
        super().teardown()
        self._pool.shutdown(wait=True)

    def _hand_back_running(self) -> int:
        """Put jobs that did not finish within the grace period back at the queue's front."""
        with self._running_lock:
            jobs = list(self._running.values())
        queue = self.queues[0]
        for job in jobs:
            state = read_state(self.connection, job.id)
            queue.started_job_registry.remove_executions(job)
            # Enqueueing saves the job with the meta it was dequeued with, so the
            # state, with the progress the phone has seen, is written after it.
            queue.enqueue_job(job, at_front=True)
            if state is not None:
                write_state(
                    self.connection,
                    job.id,
                    msgspec.structs.replace(
                        state,
                        status=JobStatus.QUEUED,
                        stage=Stage.QUEUE,
                        message=self._messages.stage(state.locale, "retrying"),
                        updated_at=utc_now_iso(),
                    ),
                )
            logger.info("job handed back on shutdown job_id=%s", job.id)
        return len(jobs)


def run_worker(settings: Settings) -> None:
    """Run a worker until it is asked to stop, starting a new one whenever Redis comes back."""
    connection = connect_redis(settings)
    wait_for_redis(connection, timeout_s=60)
    context = build_context(settings, connection)
    install_context(context)
    warm_up()
    # The context and imported modules live as long as the process. Frozen, they
    # are left out of the collector's full passes, which hold the GIL from every job.
    gc.freeze()
    while True:
        queue = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
        worker = ConcurrentWorker(
            [queue],
            connection=connection,
            serializer=JSONSerializer,
            concurrency=settings.worker_concurrency,
            messages=context.messages,
            shutdown_grace_s=settings.shutdown_grace_s,
            # RQ's description repeats the job arguments; log job ids only.
            log_job_description=False,
        )
        logger.info("worker starting name=%s queue=%s concurrency=%d", worker.name, queue.name, worker.concurrency)
        try:
            worker.work(logging_level=settings.log_level)
        except (redis.ConnectionError, redis.TimeoutError) as err:
            logger.warning("worker lost Redis: %s", err)
        if worker.stop_requested:
            return
        logger.warning("worker loop ended without a stop request; reconnecting to Redis")
        wait_for_redis(connection, timeout_s=float("inf"))


def main() -> None:
    settings = load_settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker(settings)


if __name__ == "__main__":
    main()
