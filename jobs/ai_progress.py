"""Progress of one AI stage while the model thinks and streams its answer.

Two sources move the bar:

- time: a ticker thread grows `t = TIME_SHARE_MAX * (1 - exp(-elapsed_s / time_constant_s))`,
  which never reaches the stage's end, so the bar moves while the model has
  sent nothing yet (or while a retry waits);
- output: `s`, the characters streamed so far against the expected size of the
  answer, capped at OUTPUT_SHARE_MAX.

The reported fraction is `1 - (1 - t) * (1 - s)`: it grows whenever either
source grows, never goes back, and stays below 1.0.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from types import TracebackType

from jobs.vision import ProgressCallback

logger = logging.getLogger(__name__)

TIME_SHARE_MAX = 0.9
OUTPUT_SHARE_MAX = 0.95
FRACTION_MAX = 0.98
TICK_S = 0.25


class StageProgress:
    """Feeds one stage's progress callback from a ticker thread and the streamed output.

    Use it as a context manager around the stage's calls. The ticker stops on
    exit, so the callback is never called after the stage has returned. A lock
    serialises calls to the callback, because both the ticker thread and the
    thread reading the stream report.
    """

    def __init__(self, on_progress: ProgressCallback, *, expected_chars: int, time_constant_s: float) -> None:
        if expected_chars < 1 or time_constant_s <= 0:
            raise ValueError(
                f"expected_chars must be >= 1 and time_constant_s > 0, got {expected_chars} and {time_constant_s}"
            )
        self._on_progress = on_progress
        self._expected_chars = expected_chars
        self._time_constant_s = time_constant_s
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="ai-progress", daemon=True)
        self._started_at = time.monotonic()
        self._output_chars = 0
        self._reported = 0.0

    def __enter__(self) -> StageProgress:
        self._started_at = time.monotonic()
        self._ticker.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._ticker.join()

    def add_output(self, chars: int) -> None:
        """Count `chars` more characters of streamed answer and move the bar."""
        # Output is summed over retries: a retry's answer starts again from zero,
        # but the bar must not go back, so the estimate only grows.
        self._output_chars += chars
        self._report()

    def _fraction(self) -> float:
        elapsed_s = time.monotonic() - self._started_at
        time_share = TIME_SHARE_MAX * (1.0 - math.exp(-elapsed_s / self._time_constant_s))
        output_share = min(self._output_chars / self._expected_chars, OUTPUT_SHARE_MAX)
        return min(1.0 - (1.0 - time_share) * (1.0 - output_share), FRACTION_MAX)

    def _report(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            fraction = self._fraction()
            if fraction <= self._reported:
                return
            self._reported = fraction
            self._on_progress(fraction)

    def _tick(self) -> None:
        while not self._stopped.wait(TICK_S):
            try:
                self._report()
            except Exception:
                # A progress write failed (Redis away): the stage itself goes on,
                # and the pipeline reports the outage at its next write.
                logger.exception("progress ticker stopped after a failed progress update")
                return
