"""The poll's raw-passthrough encoding must match the documented StatusDocument."""

from __future__ import annotations

import msgspec

from api.status import StatusView, StoredState
from jobs.documents import (
    Bin,
    CacheInfo,
    Feedback,
    JobError,
    JobState,
    Result,
    StatusDocument,
    WasteAnswer,
    WasteItem,
    json_encoder,
)
from jobs.stages import JobStatus, Stage, completed_steps

RESULT = Result(
    waste=WasteAnswer(
        category="pet_bottle",
        label="투명 페트병",
        confidence=0.93,
        items=[WasteItem(name="생수병", category="pet_bottle")],
        provider="anthropic:test",
    ),
    feedback=Feedback(summary="요약", steps=["하나", "둘"], cautions=["주의"], provider="anthropic:test"),
    bins=[
        Bin(
            id="abc", name="이름", category="clothing_bin", address="주소", lat=37.5, lon=127.0,
            distance_m=240, source="출처", reference_date="2024-01-01",
        )
    ],
    cache=CacheInfo(hit=True, match="similar", distance=2),
    timings_ms={"download": 12, "vision": 2100},
)  # fmt: skip


def view_of(state: JobState, queue_position: int | None) -> bytes:
    stored = msgspec.json.decode(json_encoder.encode(state), type=StoredState)
    view = StatusView(
        job_id="ab" * 16,
        status=stored.status,
        progress=stored.progress,
        stage=stored.stage,
        message=stored.message,
        steps=stored.steps,
        queue_position=queue_position,
        result=stored.result,
        error=stored.error,
        updated_at=stored.updated_at,
        poll_interval_ms=500,
        attempt=stored.attempt,
    )
    return json_encoder.encode(view)


def document_of(state: JobState, queue_position: int | None) -> bytes:
    document = StatusDocument(
        job_id="ab" * 16,
        status=state.status,
        progress=state.progress,
        stage=state.stage,
        message=state.message,
        steps=state.steps,
        queue_position=queue_position,
        result=state.result,
        error=state.error,
        updated_at=state.updated_at,
        poll_interval_ms=500,
        attempt=state.attempt,
    )
    return json_encoder.encode(document)


def test_view_fields_match_status_document() -> None:
    assert StatusView.__struct_fields__ == StatusDocument.__struct_fields__


def test_finished_state_encodes_identically() -> None:
    state = JobState(
        status=JobStatus.FINISHED, progress=100, stage=Stage.DONE, message="완료!",
        steps=completed_steps(Stage.DONE, finished=True), result=RESULT, updated_at="2026-12-04T10:00:00.123Z",
    )  # fmt: skip

    assert view_of(state, None) == document_of(state, None)


def test_queued_and_failed_states_encode_identically() -> None:
    queued = JobState(
        status=JobStatus.QUEUED, progress=0, stage=Stage.QUEUE, message="대기", queue_sequence=7,
        steps=completed_steps(Stage.QUEUE, finished=False), updated_at="2026-12-04T10:00:00.123Z",
    )  # fmt: skip
    failed = msgspec.structs.replace(
        queued, status=JobStatus.FAILED, error=JobError(code="worker_lost", message="멈췄어요"), attempt=2
    )

    assert view_of(queued, 3) == document_of(queued, 3)
    assert view_of(failed, None) == document_of(failed, None)
