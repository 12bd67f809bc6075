"""What a worker process builds once at start-up and every job it runs shares.

RQ calls a job function by its import path with only the job's arguments, so
the worker installs its context here after start-up (after any fork) and the
job function takes it from `active_context()`. All members are safe to share
between the threads of a concurrent worker.
"""

from __future__ import annotations

import logging
import time

import redis

from jobs.bins import BinFinder
from jobs.cache import NoCache, ResultCache
from jobs.catalogue import Catalogue
from jobs.feedback import FeedbackProvider, OfflineFeedback
from jobs.messages import Messages
from jobs.settings import Settings
from jobs.similarity import SimilarIndex
from jobs.simulated import SimulatedFeedback, SimulatedVision
from jobs.storage import PhotoStorage
from jobs.vision import OfflineVision, VisionProvider

logger = logging.getLogger(__name__)


class WorkerContext:
    def __init__(
        self,
        settings: Settings,
        connection: redis.Redis,
        storage: PhotoStorage,
        catalogue: Catalogue,
        messages: Messages,
        vision: VisionProvider,
        feedback: FeedbackProvider,
        cache: ResultCache | NoCache,
        bins: BinFinder,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.storage = storage
        self.catalogue = catalogue
        self.messages = messages
        self.vision = vision
        self.feedback = feedback
        self.cache = cache
        self.bins = bins


def build_context(settings: Settings, connection: redis.Redis) -> WorkerContext:
    catalogue = Catalogue.load()
    messages = Messages.load()
    vision, feedback = build_providers(settings, connection, catalogue, messages)
    logger.info("worker providers vision=%s feedback=%s", vision.name, feedback.name)
    return WorkerContext(
        settings=settings,
        connection=connection,
        storage=PhotoStorage(settings),
        catalogue=catalogue,
        messages=messages,
        vision=vision,
        feedback=feedback,
        cache=build_cache(settings, connection),
        bins=BinFinder.load(connection, messages),
    )


def build_cache(settings: Settings, connection: redis.Redis) -> ResultCache | NoCache:
    if not settings.cache_enabled:
        return NoCache()
    similar = None
    if settings.cache_similar_max_distance >= 0:
        similar = SimilarIndex(connection, ttl_s=settings.cache_ttl_s, max_distance=settings.cache_similar_max_distance)
    return ResultCache(connection, ttl_s=settings.cache_ttl_s, similar=similar)


def build_providers(
    settings: Settings, connection: redis.Redis, catalogue: Catalogue, messages: Messages
) -> tuple[VisionProvider, FeedbackProvider]:
    if settings.ai_provider == "simulated":
        return (
            SimulatedVision(catalogue, settings.simulated_vision_s),
            SimulatedFeedback(catalogue, messages, settings.simulated_feedback_s),
        )
    if settings.ai_provider == "anthropic":
        # Imported here: the SDK takes a second or two to import, which only
        # workers that call Claude should pay.
        from jobs.ai_guard import AiGuard
        from jobs.claude import ToolCallRunner, make_client
        from jobs.claude_feedback import ClaudeFeedback
        from jobs.claude_vision import ClaudeVision

        runner = ToolCallRunner(
            make_client(settings),
            AiGuard.from_settings(connection, settings),
            model=settings.anthropic_model,
            max_tokens=settings.anthropic_max_tokens,
        )
        fallback_on = settings.ai_fallback
        fallback_vision: VisionProvider = load_local_vision(catalogue, messages) or OfflineVision(catalogue, messages)
        return (
            ClaudeVision(
                runner,
                catalogue,
                messages,
                deadline_s=settings.ai_vision_deadline_s,
                fallback=fallback_vision if fallback_on else None,
            ),
            ClaudeFeedback(
                runner,
                catalogue,
                deadline_s=settings.ai_feedback_deadline_s,
                fallback=OfflineFeedback(catalogue, messages) if fallback_on else None,
            ),
        )
    if settings.ai_provider == "local":
        local = load_local_vision(catalogue, messages)
        if local is not None:
            return local, OfflineFeedback(catalogue, messages)
    return OfflineVision(catalogue, messages), OfflineFeedback(catalogue, messages)


def load_local_vision(catalogue: Catalogue, messages: Messages) -> VisionProvider | None:
    """Load the on-device classifier once per worker process, or None when its model is missing."""
    from jobs.classifier import DEFAULT_MODEL_DIR, LocalClassifier
    from jobs.local_vision import LocalVision

    if not (DEFAULT_MODEL_DIR / "model.onnx").exists():
        logger.warning("on-device model missing at %s; vision falls back to the offline provider", DEFAULT_MODEL_DIR)
        return None
    started = time.monotonic()
    vision = LocalVision(LocalClassifier.load(DEFAULT_MODEL_DIR), catalogue, messages)
    logger.info("on-device model loaded name=%s elapsed_ms=%d", vision.name, (time.monotonic() - started) * 1000)
    return vision


_active: WorkerContext | None = None


def install_context(context: WorkerContext) -> None:
    global _active
    _active = context


def active_context() -> WorkerContext:
    if _active is None:
        raise RuntimeError("no worker context installed: run jobs through `python -m jobs.worker`")
    return _active
