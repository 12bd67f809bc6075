"""JSON responses encoded with msgspec, and the one handler that turns errors into them."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jobs.documents import ErrorBody, ErrorDocument, Locale
from jobs.errors import RequestError, ServiceError
from jobs.messages import Messages

logger = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class MsgspecResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return _encoder.encode(content)


def request_locale(request: Request) -> Locale:
    """Pick the locale of a request: `?locale=` first, then Accept-Language, else Korean."""
    explicit = request.query_params.get("locale", "").lower()
    if explicit in ("ko", "en"):
        return explicit  # type: ignore[return-value]
    accept = request.headers.get("accept-language", "").strip().lower()
    if accept.startswith("en"):
        return "en"
    return "ko"


def error_response(messages: Messages, locale: Locale, error: ServiceError) -> Response:
    message = messages.error(locale, error.code, **error.values)
    body = ErrorDocument(error=ErrorBody(code=error.code, message=message))
    headers = {"Cache-Control": "no-store", **error.headers}
    return MsgspecResponse(body, status_code=error.http_status, headers=headers)


async def handle_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if exc.http_status >= 500:
        logger.warning("request failed path=%s code=%s detail=%s", request.url.path, exc.code, exc.values.get("detail"))
    return error_response(request.app.state.messages, request_locale(request), exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Turn Starlette's own 404 and 405 into the service's error document."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        code = "not_found"
    elif exc.status_code == 405:
        code = "method_not_allowed"
    else:
        code = "invalid_request"
    detail = request.url.path if exc.status_code == 404 else str(exc.detail)
    error = RequestError(code, http_status=exc.status_code, detail=detail)
    response = error_response(request.app.state.messages, request_locale(request), error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response
