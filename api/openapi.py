"""The OpenAPI 3.1 document, generated from the msgspec types the handlers use.

Bodies and query parameters come from the same Structs that validate them.
The examples are Struct instances too, so an example with a missing or renamed
field fails when this module is imported. msgspec does not check field types at
construction, so tests/test_openapi.py validates every example against its schema.
"""

from __future__ import annotations

from typing import Any

import msgspec

from jobs.documents import (
    AdviceQuery,
    AdviceResponse,
    AnalyzeRequest,
    AnalyzeResponse,
    Bin,
    CacheInfo,
    ErrorBody,
    ErrorDocument,
    Feedback,
    HealthDocument,
    NearbyQuery,
    NearbyResponse,
    Result,
    StatusDocument,
    UploadDescriptor,
    WasteAnswer,
    WasteItem,
)
from jobs.stages import JobStatus, Stage

# A response body is a msgspec type (shown by reference), a raw JSON schema, or None.
ResponseBody = type | dict[str, Any] | None
HTML_PAGE = {"type": "string", "description": "HTML page"}


class Parameter(msgspec.Struct, frozen=True):
    name: str
    location: str
    description: str
    schema: dict[str, Any]
    required: bool = False


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    path: str
    summary: str
    responses: dict[int, tuple[str, ResponseBody]]
    request: type | None = None
    request_media: tuple[str, ...] = ("application/json",)
    request_examples: dict[str, Any] = {}
    # A Struct whose fields are the query parameters, validated with api.bins.parse_query.
    query: type | None = None
    parameters: tuple[Parameter, ...] = ()
    response_media: tuple[str, ...] = ("application/json",)
    # Response examples by status code, then by example name.
    examples: dict[int, dict[str, Any]] = {}


JOB_ID_PARAMETER = Parameter(
    "job_id", "path", "Job id returned by analyze", {"type": "string", "pattern": "^[0-9a-f]{32}$"}, required=True
)
LOCALE_PARAMETER = Parameter(
    "locale", "query", "Language of messages: ko (default) or en", {"type": "string", "enum": ["ko", "en"]}
)
LAT_PARAMETER = Parameter("lat", "query", "Latitude (image-body form only)", {"type": "number", "minimum": -85.05112878, "maximum": 85.05112878})
LON_PARAMETER = Parameter(
    "lon", "query", "Longitude (image-body form only)", {"type": "number", "minimum": -180, "maximum": 180}
)
ASSET_PARAMETER = Parameter(
    "name", "path", "File name of a static asset", {"type": "string", "examples": ["demo.js", "demo.css"]}, required=True
)

ERRORS = {
    400: ("Body does not parse", ErrorDocument),
    404: ("Unknown or expired job", ErrorDocument),
    409: ("Conflict with the job's state", ErrorDocument),
    413: ("Too large", ErrorDocument),
    415: ("Unsupported media or image type", ErrorDocument),
    422: ("Invalid values", ErrorDocument),
    429: ("Too many requests: wait the Retry-After header's seconds", ErrorDocument),
    503: ("Redis or storage unavailable", ErrorDocument),
}

# --- Examples --------------------------------------------------------------

EXAMPLE_JOB_ID = "3f9c2a7be1d04c5f8a6b0e2d9c71f4a8"
EXAMPLE_STATUS_URL = f"/api/v1/waste/status/{EXAMPLE_JOB_ID}"
EXAMPLE_BIN = Bin(
    id="7b1e04c9d2aa",
    name="세종대로 지하보도 입구",
    category="street_bin_recycling",
    address="서울특별시 중구 세종대로 110",
    lat=37.5663,
    lon=126.9779,
    distance_m=240,
    source="공공데이터포털 · 서울특별시 중구",
    reference_date="2024-03-11",
)
EXAMPLE_CLOTHING_BIN = Bin(
    id="c2f58a0e7d13",
    name="을지로 12 앞",
    category="clothing_bin",
    address="서울특별시 중구 을지로 12",
    lat=37.5661,
    lon=126.9812,
    distance_m=310,
    source="공공데이터포털 · 서울특별시 중구",
    reference_date="2024-03-11",
)
EXAMPLE_RESULT = Result(
    waste=WasteAnswer(
        category="pet_bottle",
        label="투명 페트병",
        confidence=0.93,
        items=[WasteItem(name="생수병", category="pet_bottle")],
        provider="anthropic:claude-sonnet-4-5",
    ),
    feedback=Feedback(
        summary="라벨을 뗀 투명 페트병은 헹궈서 납작하게 눌러 투명 페트병 수거함에 넣어요.",
        steps=["물로 헹궈요.", "라벨을 떼어요.", "눌러서 부피를 줄이고 뚜껑을 닫아요."],
        cautions=["색이 있는 병은 플라스틱으로 내놓아요."],
        provider="anthropic:claude-sonnet-4-5",
    ),
    bins=[EXAMPLE_BIN],
    cache=CacheInfo(hit=False),
    bins_note="밖에서 마신 페트병은 재활용 가로쓰레기통에 넣어요.",
    timings_ms={"download": 12, "cache": 3, "preprocess": 41, "vision": 2100, "feedback": 3300, "bins": 4},
)
ALL_STEPS = ("download", "cache", "preprocess", "vision", "feedback", "bins", "done")
EXAMPLE_RUNNING = StatusDocument(
    job_id=EXAMPLE_JOB_ID,
    status=JobStatus.STARTED,
    progress=52,
    stage=Stage.VISION,
    message="AI 비전 분석 중...",
    steps={step: step in ("download", "cache", "preprocess") for step in ALL_STEPS},
    updated_at="2026-12-04T10:00:02.412Z",
    poll_interval_ms=500,
)
EXAMPLE_QUEUED = StatusDocument(
    job_id=EXAMPLE_JOB_ID,
    status=JobStatus.QUEUED,
    progress=0,
    stage=Stage.QUEUE,
    message="처리 순서를 기다리는 중...",
    steps={step: False for step in ALL_STEPS},
    queue_position=3,
    updated_at="2026-12-04T10:00:00.123Z",
    poll_interval_ms=500,
)
EXAMPLE_FINISHED = StatusDocument(
    job_id=EXAMPLE_JOB_ID,
    status=JobStatus.FINISHED,
    progress=100,
    stage=Stage.DONE,
    message="완료!",
    steps={step: True for step in ALL_STEPS},
    result=EXAMPLE_RESULT,
    updated_at="2026-12-04T10:00:05.981Z",
    poll_interval_ms=500,
)
EXAMPLE_CREATED = AnalyzeResponse(
    job_id=EXAMPLE_JOB_ID,
    status=JobStatus.AWAITING_UPLOAD,
    status_url=EXAMPLE_STATUS_URL,
    poll_interval_ms=500,
    upload=UploadDescriptor(
        method="POST",
        url="https://storage.example.com/waste-uploads",
        fields={"key": f"uploads/{EXAMPLE_JOB_ID}", "policy": "eyJleHBpcmF0aW9uIjoi…", "x-amz-signature": "…"},
        max_bytes=10485760,
        expires_at="2026-12-04T10:15:00Z",
    ),
)
EXAMPLE_QUEUED_AT_ONCE = AnalyzeResponse(
    job_id=EXAMPLE_JOB_ID, status=JobStatus.QUEUED, status_url=EXAMPLE_STATUS_URL, poll_interval_ms=500
)
EXAMPLE_ADVICE = AdviceResponse(
    waste=WasteAnswer(category="clothing", label="의류", confidence=1.0, provider="user"),
    feedback=Feedback(
        summary="옷은 젖지 않게 담아 가까운 의류수거함에 넣어요.",
        steps=["봉투에 담아요.", "의류수거함에 넣어요."],
        cautions=["이불과 베개는 받지 않는 수거함이 많아요."],
        provider="offline:rules",
    ),
    bins=[EXAMPLE_CLOTHING_BIN],
    bins_note="깨끗하고 마른 옷은 가까운 의류수거함에 넣어요.",
)
EXAMPLE_NEARBY = NearbyResponse(bins=[EXAMPLE_CLOTHING_BIN], note="깨끗하고 마른 옷은 가까운 의류수거함에 넣어요.")


def example_error(code: str, message: str) -> ErrorDocument:
    return ErrorDocument(error=ErrorBody(code=code, message=message))


# --- Operations ------------------------------------------------------------

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        method="post",
        path="/api/v1/waste/analyze",
        summary="Create a job: JSON returns an upload descriptor; an image body is stored and queued at once",
        request=AnalyzeRequest,
        request_media=("application/json", "image/*", "multipart/form-data"),
        request_examples={"seoul": AnalyzeRequest(content_type="image/jpeg", size=734003, lat=37.5665, lon=126.978)},
        parameters=(LAT_PARAMETER, LON_PARAMETER, LOCALE_PARAMETER),
        responses={
            202: ("Job created", AnalyzeResponse),
            409: ("A request with this Idempotency-Key is still being processed", ErrorDocument),
            **{code: ERRORS[code] for code in (400, 413, 415, 422, 429, 503)},
        },
        examples={
            202: {"presigned_upload": EXAMPLE_CREATED, "image_body_queued": EXAMPLE_QUEUED_AT_ONCE},
            415: {"not_an_image": example_error("unsupported_image", "지원하지 않는 파일 형식이에요. JPEG, PNG, WebP, HEIC, AVIF 사진을 올려 주세요.")},
        },
    ),
    Operation(
        method="post",
        path="/api/v1/waste/jobs/{job_id}/start",
        summary="Queue the job after the upload; a repeated call returns the current status",
        parameters=(JOB_ID_PARAMETER,),
        responses={202: ("Current status", StatusDocument), **{code: ERRORS[code] for code in (404, 409, 413, 415, 422, 503)}},
        examples={
            202: {"queued": EXAMPLE_QUEUED},
            409: {"upload_missing": example_error("upload_missing", f"작업 {EXAMPLE_JOB_ID}의 사진이 아직 업로드되지 않았어요.")},
        },
    ),
    Operation(
        method="get",
        path="/api/v1/waste/status/{job_id}",
        summary="Poll the job's status (ETag; 304 on If-None-Match)",
        parameters=(JOB_ID_PARAMETER,),
        responses={200: ("Status document", StatusDocument), 304: ("Unchanged", None), **{code: ERRORS[code] for code in (404, 503)}},
        examples={
            200: {"queued": EXAMPLE_QUEUED, "running": EXAMPLE_RUNNING, "finished": EXAMPLE_FINISHED},
            404: {"job_not_found": example_error("job_not_found", f"작업 {EXAMPLE_JOB_ID}을(를) 찾을 수 없어요.")},
        },
    ),
    Operation(
        method="delete",
        path="/api/v1/waste/jobs/{job_id}",
        summary="Cancel the job; the worker stops at its next stage and the upload is deleted",
        parameters=(JOB_ID_PARAMETER,),
        responses={202: ("Status after the cancel request", StatusDocument), **{code: ERRORS[code] for code in (404, 409, 503)}},
    ),
    Operation(
        method="get",
        path="/api/v1/waste/advice",
        summary="Advice and nearby collection points for a category the user picked (for unknown or unsure answers)",
        query=AdviceQuery,
        responses={200: ("Advice for the category", AdviceResponse), 422: ERRORS[422], 503: ERRORS[503]},
        examples={200: {"clothing_in_seoul": EXAMPLE_ADVICE}},
    ),
    Operation(
        method="get",
        path="/api/v1/bins/nearby",
        summary="Collection points that accept a waste category, nearest first",
        query=NearbyQuery,
        responses={200: ("Nearby collection points", NearbyResponse), 422: ERRORS[422], 503: ERRORS[503]},
        examples={200: {"clothing_in_seoul": EXAMPLE_NEARBY}},
    ),
    Operation(
        method="get",
        path="/health",
        summary="Liveness; touches nothing",
        responses={200: ("Alive", HealthDocument)},
    ),
    Operation(
        method="get",
        path="/ready",
        summary="Readiness: Redis and storage answer",
        responses={200: ("Ready", HealthDocument), 503: ("A dependency is down", HealthDocument)},
    ),
    Operation(
        method="get",
        path="/metrics",
        summary="Prometheus metrics: queue depth and age, jobs in flight, outcomes, stage latencies",
        response_media=("text/plain",),
        responses={
            200: ("Prometheus text exposition format 0.0.4", {"type": "string"}),
            503: ERRORS[503],
        },
    ),
    Operation(
        method="get",
        path="/openapi.json",
        summary="This OpenAPI document",
        responses={200: ("OpenAPI 3.1 document", {"type": "object", "required": ["openapi", "info", "paths"]})},
    ),
    Operation(
        method="get",
        path="/docs",
        summary="This document rendered as a plain HTML page",
        response_media=("text/html",),
        responses={200: ("HTML page", HTML_PAGE)},
    ),
    Operation(
        method="get",
        path="/demo",
        summary="Web page that runs the phone's flow: photo, progress bar, step checklist, result",
        response_media=("text/html",),
        responses={200: ("HTML page", HTML_PAGE)},
    ),
    Operation(
        method="get",
        path="/static/{name}",
        summary="Scripts and style sheets of the demo page and the docs page",
        parameters=(ASSET_PARAMETER,),
        response_media=("text/javascript", "text/css"),
        responses={
            200: ("File contents", {"type": "string"}),
            304: ("Unchanged (If-None-Match)", None),
            404: ("No such file", ErrorDocument),
        },
    ),
)


def build_openapi(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    types = sorted(
        {
            t
            for op in operations
            for t in [op.request, op.query, *(body for _, body in op.responses.values())]
            if isinstance(t, type)
        },
        key=lambda t: t.__name__,
    )
    refs, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip(types, refs, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "responses": {}}
        parameters = [_parameter(p) for p in op.parameters]
        if op.query is not None:
            parameters += _query_parameters(components[op.query.__name__])
        if parameters:
            entry["parameters"] = parameters
        if op.request is not None:
            entry["requestBody"] = _request_body(op, schema_of[op.request])
        for status, (description, body) in sorted(op.responses.items()):
            entry["responses"][str(status)] = _response(op, status, description, body, schema_of)
        paths.setdefault(op.path, {})[op.method] = entry

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Waste sorting job API",
            "version": "1.0.0",
            "description": "Photo to Korean disposal advice (분리배출), with short-polled progress.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.location,
        "description": parameter.description,
        "required": parameter.required,
        "schema": parameter.schema,
    }


def _query_parameters(struct_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn the properties of a query Struct's schema into OpenAPI query parameters."""
    required = set(struct_schema.get("required", ()))
    parameters = []
    for name, schema in struct_schema["properties"].items():
        schema = _without_null(schema)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "description": schema.get("description", ""),
                "required": name in required,
                "schema": schema,
            }
        )
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the `null` branch of an optional field: an absent query parameter is how a client sends None."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    non_null = [branch for branch in branches if branch != {"type": "null"}]
    if len(non_null) != 1:
        return schema
    merged = dict(non_null[0])
    if schema.get("default") is not None:
        merged["default"] = schema["default"]
    return merged


def _request_body(op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media in op.request_media:
        if media == "application/json":
            content[media] = {"schema": schema}
            if op.request_examples:
                content[media]["examples"] = _examples(op.request_examples)
        elif media == "multipart/form-data":
            content[media] = {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}
        else:
            content[media] = {"schema": {"type": "string", "format": "binary"}}
    return {"required": False, "content": content}


def _response(
    op: Operation, status: int, description: str, body: ResponseBody, schema_of: dict[type, dict[str, Any]]
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if body is None:
        return response
    if isinstance(body, type):
        # Error documents are JSON whatever the operation's media type is.
        media_types: tuple[str, ...] = ("application/json",)
        schema = schema_of[body]
    else:
        media_types = op.response_media
        schema = body
    response["content"] = {media: {"schema": schema} for media in media_types}
    if status in op.examples:
        for media in media_types:
            response["content"][media]["examples"] = _examples(op.examples[status])
    return response


def _examples(values: dict[str, Any]) -> dict[str, Any]:
    return {name: {"value": msgspec.to_builtins(value)} for name, value in values.items()}
