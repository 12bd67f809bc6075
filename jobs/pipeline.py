"""The job itself: download → cache → preprocess → vision → feedback → bins → done.

`run_job` is what RQ calls. Each stage reports progress before it starts its
work; the job ends as `finished`, `failed` with a code, or `canceled`, and the
upload is deleted in every case.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time

import msgspec
import redis
from PIL import Image

from jobs import keys
from jobs.cache import CachedAnswer, cache_context
from jobs.context import WorkerContext, active_context
from jobs.documents import Bin, Feedback, JobRequest, Result, WasteAnswer
from jobs.errors import DependencyError, JobCanceled, JobFailure
from jobs.imaging import MAX_LONG_EDGE_PX, finish_photo, open_upright
from jobs.similarity import compute_fingerprint
from jobs.metrics import record_job
from jobs.progress import ProgressReporter
from jobs.stages import (
    FEEDBACK_LAST_PROGRESS,
    STAGE_START_PROGRESS,
    VISION_LAST_PROGRESS,
    VISION_PARSED_PROGRESS,
    Stage,
)
from jobs.vision import CallContext

logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Run the image path once on a small generated photo.

    The first fingerprint imports SciPy's FFT module and the first decode and
    encode load Pillow's plugins: about 150 ms of CPU with the GIL held. Paid
    at start-up, it does not stall the threads of a worker's first jobs.
    """
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 60)).save(buffer, format="JPEG")
    image, image_format, source_size = open_upright(buffer.getvalue(), 64 * 48, MAX_LONG_EDGE_PX)
    compute_fingerprint(image)
    finish_photo(image, image_format, source_size).jpeg


def run_job(request: dict[str, object]) -> str:
    """RQ entry point: run the pipeline for one job and return its final status."""
    job_request = msgspec.convert(request, JobRequest)
    return WastePipeline(active_context(), job_request).run()


class WastePipeline:
    def __init__(self, context: WorkerContext, request: JobRequest) -> None:
        self._context = context
        self._request = request
        self._job_id = request.job_id
        self._locale = request.locale
        self._reporter = ProgressReporter(
            context.connection,
            context.messages,
            request.job_id,
            request.locale,
            min_advance_interval_s=context.settings.poll_interval_ms / 1000,
        )
        self._started_at = time.monotonic()
        self._call = CallContext(job_id=request.job_id, job_deadline_at=self._started_at + context.settings.job_deadline_s)

    def run(self) -> str:
        context = self._context
        context.connection.incr(keys.taken_count_key(context.settings.queue_name))
        self._reporter.begin()
        logger.info("job started job_id=%s", self._job_id)
        try:
            try:
                result = self._run_stages()
            finally:
                # Deleted before the outcome is written, so that by the time a poll
                # shows the job ended, its photo is gone from storage.
                self._delete_upload()
        except JobCanceled:
            self._reporter.fail("canceled", context.messages.error(self._locale, "canceled"))
            self._log_end("canceled")
            return "canceled"
        except JobFailure as err:
            self._reporter.fail(err.code, context.messages.error(self._locale, err.code, **err.values))
            self._log_end("failed", err.code)
            raise
        except DependencyError as err:
            self._reporter.fail(err.code, context.messages.error(self._locale, err.code))
            self._log_end("failed", err.code)
            raise
        except Exception:
            self._reporter.fail("internal_error", context.messages.error(self._locale, "internal_error"))
            logger.exception("job failed on an unexpected error job_id=%s", self._job_id)
            raise

        self._reporter.finish(result)
        self._log_end("finished")
        return "finished"

    def _run_stages(self) -> Result:
        context = self._context
        reporter = self._reporter

        reporter.enter(Stage.DOWNLOAD)
        data = context.storage.read(self._request.object_key)

        reporter.enter(Stage.CACHE)
        sha256 = hashlib.sha256(data).hexdigest()
        # Decoded once, upright, at the smallest scale the AI needs: the fingerprint
        # is taken from this image and the preprocess stage reduces it further.
        image, image_format, source_size = open_upright(data, context.settings.max_image_pixels, MAX_LONG_EDGE_PX)
        del data
        fingerprint = compute_fingerprint(image)
        cache_key_context = cache_context(
            context.catalogue.version, context.vision.name, context.feedback.name, self._locale
        )
        cached, cache_info = context.cache.lookup(cache_key_context, sha256, fingerprint)

        reporter.enter(Stage.PREPROCESS)
        photo = finish_photo(image, image_format, source_size)
        del image

        if cached is not None:
            waste, feedback = cached.waste, cached.feedback
            reporter.advance(Stage.FEEDBACK, FEEDBACK_LAST_PROGRESS, "feedback")
        else:
            waste = self._recognise(photo)
            # The pixels are not needed past vision; freeing them here keeps a
            # worker with hundreds of jobs waiting on the feedback stage small.
            del photo
            feedback = self._advise(waste)
            if waste.provider == context.vision.name and feedback.provider == context.feedback.name:
                # Fallback answers are not cached: the better provider may answer next time.
                answer = CachedAnswer(waste=waste, feedback=feedback)
                context.cache.store(cache_key_context, sha256, fingerprint, answer)

        reporter.enter(Stage.BINS)
        bins, bins_note = self._find_bins(waste)

        reporter.enter(Stage.DONE)
        return Result(
            waste=waste,
            feedback=feedback,
            bins=bins,
            cache=cache_info,
            bins_note=bins_note,
            timings_ms=dict(reporter.timings_ms),
        )

    def _recognise(self, photo) -> WasteAnswer:  # type: ignore[no-untyped-def]
        reporter = self._reporter
        reporter.enter(Stage.VISION, "vision")
        start = STAGE_START_PROGRESS[Stage.VISION]
        span = VISION_PARSED_PROGRESS - 1 - start

        def on_progress(fraction: float) -> None:
            reporter.advance(Stage.VISION, start + round(span * min(max(fraction, 0.0), 1.0)))

        answer = self._context.vision.recognise(photo, self._locale, on_progress, self._call)
        reporter.advance(Stage.VISION, VISION_PARSED_PROGRESS, "vision_parse")
        reporter.advance(Stage.VISION, VISION_LAST_PROGRESS, "vision_parse")
        return answer

    def _advise(self, waste: WasteAnswer) -> Feedback:
        reporter = self._reporter
        reporter.enter(Stage.FEEDBACK, "feedback")
        start = STAGE_START_PROGRESS[Stage.FEEDBACK]
        span = FEEDBACK_LAST_PROGRESS - start

        def on_progress(fraction: float) -> None:
            reporter.advance(Stage.FEEDBACK, start + round(span * min(max(fraction, 0.0), 1.0)))

        return self._context.feedback.advise(waste, self._locale, on_progress, self._call)

    def _find_bins(self, waste: WasteAnswer) -> tuple[list[Bin], str | None]:
        context = self._context
        request = self._request
        if request.lat is None or request.lon is None:
            return [], context.messages.bins_note(self._locale, "no_location")
        lat, lon = self._precise_location(request.lat, request.lon)
        answer = context.bins.search(waste.category, lat, lon, self._locale)
        # The precise coordinates are not needed any more; the job keeps the rounded ones.
        context.connection.delete(keys.location_key(self._job_id))
        return answer.bins, answer.note

    def _precise_location(self, rounded_lat: float, rounded_lon: float) -> tuple[float, float]:
        raw = self._context.connection.get(keys.location_key(self._job_id))
        if raw is None:
            return rounded_lat, rounded_lon
        lat, lon = msgspec.json.decode(raw, type=tuple[float, float])
        return lat, lon

    def _delete_upload(self) -> None:
        try:
            self._context.storage.delete(self._request.object_key)
        except DependencyError:
            # The bucket's lifecycle rule removes it later, so the job's outcome is unchanged.
            logger.warning("upload not deleted job_id=%s; the lifecycle rule will expire it", self._job_id)

    def _log_end(self, outcome: str, code: str | None = None) -> None:
        elapsed_ms = round((time.monotonic() - self._started_at) * 1000)
        logger.info("job %s job_id=%s code=%s elapsed_ms=%d", outcome, self._job_id, code or "-", elapsed_ms)
        try:
            record_job(self._context.connection, f"{outcome}:{code}" if code else outcome, self._reporter.timings_ms)
        except (redis.ConnectionError, redis.TimeoutError):
            logger.warning("job metrics not recorded job_id=%s: Redis unavailable", self._job_id)
