"""The OpenAPI 3.1 document, generated from the msgspec types the handlers use."""

from __future__ import annotations

from typing import Any

import msgspec

from jobs.documents import AnalyzeRequest, AnalyzeResponse, ErrorDocument, HealthDocument, StatusDocument


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
    responses: dict[int, tuple[str, type | None]]
    request: type | None = None
    request_media: tuple[str, ...] = ("application/json",)
    parameters: tuple[Parameter, ...] = ()


JOB_ID_PARAMETER = Parameter(
    "job_id", "path", "Job id returned by analyze", {"type": "string", "pattern": "^[0-9a-f]{32}$"}, required=True
)
LOCALE_PARAMETER = Parameter(
    "locale", "query", "Language of messages: ko (default) or en", {"type": "string", "enum": ["ko", "en"]}
)
LAT_PARAMETER = Parameter("lat", "query", "Latitude (image-body form only)", {"type": "number", "minimum": -90, "maximum": 90})
LON_PARAMETER = Parameter(
    "lon", "query", "Longitude (image-body form only)", {"type": "number", "minimum": -180, "maximum": 180}
)

ERRORS = {
    400: ("Body does not parse", ErrorDocument),
    404: ("Unknown or expired job", ErrorDocument),
    409: ("Conflict with the job's state", ErrorDocument),
    413: ("Too large", ErrorDocument),
    415: ("Unsupported media or image type", ErrorDocument),
    422: ("Invalid values", ErrorDocument),
    503: ("Redis or storage unavailable", ErrorDocument),
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        method="post",
        path="/api/v1/waste/analyze",
        summary="Create a job: JSON returns an upload descriptor; an image body is stored and queued at once",
        request=AnalyzeRequest,
        request_media=("application/json", "image/*", "multipart/form-data"),
        parameters=(LAT_PARAMETER, LON_PARAMETER, LOCALE_PARAMETER),
        responses={202: ("Job created", AnalyzeResponse), **{code: ERRORS[code] for code in (400, 413, 415, 422, 503)}},
    ),
    Operation(
        method="post",
        path="/api/v1/waste/jobs/{job_id}/start",
        summary="Queue the job after the upload; a repeated call returns the current status",
        parameters=(JOB_ID_PARAMETER,),
        responses={202: ("Current status", StatusDocument), **{code: ERRORS[code] for code in (404, 409, 413, 415, 422, 503)}},
    ),
    Operation(
        method="get",
        path="/api/v1/waste/status/{job_id}",
        summary="Poll the job's status (ETag; 304 on If-None-Match)",
        parameters=(JOB_ID_PARAMETER,),
        responses={200: ("Status document", StatusDocument), 304: ("Unchanged", None), **{code: ERRORS[code] for code in (404, 503)}},
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
)


def build_openapi(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    types = sorted(
        {t for op in operations for t in [op.request, *(body for _, body in op.responses.values())] if t is not None},
        key=lambda t: t.__name__,
    )
    refs, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip(types, refs, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "responses": {}}
        if op.parameters:
            entry["parameters"] = [
                {"name": p.name, "in": p.location, "description": p.description, "required": p.required, "schema": p.schema}
                for p in op.parameters
            ]
        if op.request is not None:
            content: dict[str, Any] = {}
            for media in op.request_media:
                if media == "application/json":
                    content[media] = {"schema": schema_of[op.request]}
                elif media == "multipart/form-data":
                    content[media] = {
                        "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                    }
                else:
                    content[media] = {"schema": {"type": "string", "format": "binary"}}
            entry["requestBody"] = {"required": False, "content": content}
        for status, (description, body) in sorted(op.responses.items()):
            response: dict[str, Any] = {"description": description}
            if body is not None:
                response["content"] = {"application/json": {"schema": schema_of[body]}}
            entry["responses"][str(status)] = response
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
