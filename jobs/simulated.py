"""A simulated AI for load tests: it sleeps like the real APIs and streams progress.

Never the default: AI_PROVIDER=simulated selects it. Latencies are drawn
uniformly from SIMULATED_VISION_SECONDS and SIMULATED_FEEDBACK_SECONDS
(defaults 2-5 s and 3-8 s, the original design's figures). Its answers are
marked `simulated` and its advice comes from the rules catalogue.
"""

from __future__ import annotations

import random
import time

from jobs.catalogue import Catalogue
from jobs.documents import Feedback, Locale, WasteAnswer
from jobs.feedback import catalogue_feedback
from jobs.imaging import PreparedPhoto
from jobs.messages import Messages
from jobs.vision import CallContext, ProgressCallback

SIMULATED_PROVIDER = "simulated"
PROGRESS_TICK_S = 0.25


def _sleep_with_progress(duration_s: float, on_progress: ProgressCallback) -> None:
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= duration_s:
            break
        on_progress(elapsed / duration_s)
        time.sleep(min(PROGRESS_TICK_S, duration_s - elapsed))
    on_progress(1.0)


class SimulatedVision:
    name = SIMULATED_PROVIDER

    def __init__(self, catalogue: Catalogue, latency_s: tuple[float, float], seed: int | None = None) -> None:
        self._catalogue = catalogue
        self._latency_s = latency_s
        self._random = random.Random(seed)

    def recognise(
        self, photo: PreparedPhoto, locale: Locale, on_progress: ProgressCallback, call: CallContext
    ) -> WasteAnswer:
        _sleep_with_progress(self._random.uniform(*self._latency_s), on_progress)
        # Always the same category, so load tests exercise one realistic path.
        return WasteAnswer(
            category="pet_bottle",
            label=self._catalogue.label("pet_bottle", locale),
            confidence=0.9,
            provider=self.name,
        )


class SimulatedFeedback:
    name = SIMULATED_PROVIDER

    def __init__(self, catalogue: Catalogue, messages: Messages, latency_s: tuple[float, float], seed: int | None = None):
        self._catalogue = catalogue
        self._messages = messages
        self._latency_s = latency_s
        self._random = random.Random(seed)

    def advise(self, answer: WasteAnswer, locale: Locale, on_progress: ProgressCallback, call: CallContext) -> Feedback:
        _sleep_with_progress(self._random.uniform(*self._latency_s), on_progress)
        return catalogue_feedback(self._catalogue, self._messages, answer.category, locale, self.name)
