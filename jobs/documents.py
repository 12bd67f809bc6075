"""Every payload that crosses a boundary: HTTP bodies, job arguments, job meta, results.

The OpenAPI document is generated from these same types, so the schema the
phone reads and the validation the server runs cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from jobs.stages import JobStatus, Stage

Locale = Literal["ko", "en"]
# Redis GEO indexes latitudes only within +-85.05112878 degrees (the Web Mercator
# limit), so coordinates outside it are rejected at the API.
Latitude = Annotated[
    float, msgspec.Meta(ge=-85.05112878, le=85.05112878, description="WGS84 latitude in degrees")
]
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0, description="WGS84 longitude in degrees")]
JobId = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{32}$", description="Unguessable job id")]

WasteCategory = Literal[
    "pet_bottle",
    "plastic",
    "vinyl",
    "paper",
    "paper_pack",
    "glass_bottle",
    "can_metal",
    "styrofoam",
    "clothing",
    "battery",
    "fluorescent_lamp",
    "food",
    "general",
    "bulky",
    "e_waste",
    "unknown",
]


# --- HTTP requests ---------------------------------------------------------


class AnalyzeRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of POST /api/v1/waste/analyze in its JSON form."""

    content_type: Annotated[str, msgspec.Meta(max_length=100, examples=["image/jpeg"])] | None = None
    size: Annotated[int, msgspec.Meta(ge=1, description="Photo size in bytes, if known")] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    locale: Locale = "ko"


# --- HTTP responses --------------------------------------------------------


class UploadDescriptor(msgspec.Struct, kw_only=True):
    """Upload descriptor: where and how the phone sends the photo straight to storage."""

    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    max_bytes: int
    expires_at: str


class AnalyzeResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    job_id: str
    status: JobStatus
    status_url: str
    poll_interval_ms: int
    upload: UploadDescriptor | None = None


class ErrorBody(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(examples=["job_not_found"])]
    message: str


class ErrorDocument(msgspec.Struct):
    error: ErrorBody


class HealthDocument(msgspec.Struct):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}


# --- Result ----------------------------------------------------------------


class WasteItem(msgspec.Struct, kw_only=True):
    name: str
    category: WasteCategory


class WasteAnswer(msgspec.Struct, kw_only=True):
    """The vision stage's answer: the recognised item and its category."""

    category: WasteCategory
    label: str
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    items: list[WasteItem] = []
    material: str | None = None
    needs_rinsing: bool | None = None
    needs_disassembly: bool | None = None
    reason: str | None = None
    provider: str


class Feedback(msgspec.Struct, kw_only=True):
    """Disposal advice in the job's locale."""

    summary: str
    steps: list[str]
    cautions: list[str]
    provider: str


class Bin(msgspec.Struct, kw_only=True):
    id: str
    name: str
    category: str
    address: str
    lat: float
    lon: float
    distance_m: int
    source: str
    reference_date: str


class CacheInfo(msgspec.Struct, kw_only=True, omit_defaults=True):
    hit: bool
    match: Literal["exact", "similar"] | None = None
    distance: int | None = None


class Result(msgspec.Struct, kw_only=True):
    waste: WasteAnswer
    feedback: Feedback
    bins: list[Bin]
    cache: CacheInfo
    bins_note: str | None = None
    timings_ms: dict[str, int] = {}


class JobError(msgspec.Struct):
    code: str
    message: str


# --- Job state (RQ job meta) and the status document -----------------------


class JobState(msgspec.Struct, kw_only=True):
    """Job state, as the worker and the API write it into the RQ job's `meta` field."""

    status: JobStatus
    progress: Annotated[int, msgspec.Meta(ge=0, le=100)]
    stage: Stage
    message: str
    steps: dict[str, bool]
    locale: Locale = "ko"
    queue_sequence: int | None = None
    result: Result | None = None
    error: JobError | None = None
    updated_at: str
    attempt: int = 1


class StatusDocument(msgspec.Struct, kw_only=True):
    """Body of GET /api/v1/waste/status/{id}."""

    job_id: str
    status: JobStatus
    progress: Annotated[int, msgspec.Meta(ge=0, le=100)]
    stage: Stage
    message: str
    steps: dict[str, bool]
    queue_position: int | None = None
    result: Result | None = None
    error: JobError | None = None
    updated_at: str
    poll_interval_ms: int
    attempt: Annotated[int, msgspec.Meta(ge=1, description="2 once a job was retried after losing its worker")] = 1


# --- Job arguments ---------------------------------------------------------


class JobRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The argument of the RQ job: everything the worker needs besides the photo."""

    job_id: str
    object_key: str
    locale: Locale = "ko"
    lat: float | None = None
    lon: float | None = None
    created_at: str


json_encoder = msgspec.json.Encoder()
job_state_decoder = msgspec.json.Decoder(JobState)
analyze_request_decoder = msgspec.json.Decoder(AnalyzeRequest)


class NearbyQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Query of GET /api/v1/bins/nearby."""

    lat: Annotated[Latitude, msgspec.Meta(examples=[37.5665])]
    lon: Annotated[Longitude, msgspec.Meta(examples=[126.978])]
    category: Annotated[
        WasteCategory, msgspec.Meta(description="Waste category; mapped to the bin types that accept it", examples=["battery"])
    ]
    radius_m: Annotated[int, msgspec.Meta(ge=1, le=5000, description="Search radius in metres")] = 1000
    limit: Annotated[int, msgspec.Meta(ge=1, le=50, description="Maximum number of bins returned")] = 5
    locale: Annotated[Locale, msgspec.Meta(description="Language of the note")] = "ko"


class NearbyResponse(msgspec.Struct, kw_only=True):
    bins: list[Bin]
    note: str | None = None


class AdviceQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Query of GET /api/v1/waste/advice: a category the user picked, and where they are."""

    category: Annotated[WasteCategory, msgspec.Meta(description="Waste category the user picked", examples=["clothing"])]
    lat: Annotated[Latitude, msgspec.Meta(examples=[37.5665])] | None = None
    lon: Annotated[Longitude, msgspec.Meta(examples=[126.978])] | None = None
    locale: Annotated[Locale, msgspec.Meta(description="Language of the answer")] = "ko"


class AdviceResponse(msgspec.Struct, kw_only=True):
    """Body of GET /api/v1/waste/advice: the parts of a result that follow from the category."""

    waste: WasteAnswer
    feedback: Feedback
    bins: list[Bin]
    bins_note: str | None = None
