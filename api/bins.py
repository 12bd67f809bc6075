"""GET /api/v1/bins/nearby: collection points that accept a waste category."""

from __future__ import annotations

import msgspec
import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.responses import MsgspecResponse
from jobs.bins import BinFinder
from jobs.documents import Locale, NearbyQuery, NearbyResponse
from jobs.errors import DependencyError, RequestError

StructType = type[msgspec.Struct]


def parse_query(request: Request, struct: StructType) -> msgspec.Struct:
    """Validate query parameters against `struct`; strings convert to numbers where the field says so."""
    try:
        return msgspec.convert(dict(request.query_params), struct, strict=False)
    except msgspec.ValidationError as err:
        raise RequestError("invalid_request", http_status=422, detail=str(err)) from err


async def search_bins(
    finder: BinFinder, category: str, lat: float, lon: float, locale: Locale, radius_m: int, limit: int
) -> NearbyResponse:
    try:
        answer = await run_in_threadpool(finder.search, category, lat, lon, locale, radius_m, limit)
    except (redis.ConnectionError, redis.TimeoutError) as err:
        raise DependencyError("queue_unavailable", detail=str(err)) from err
    return NearbyResponse(bins=answer.bins, note=answer.note)


async def nearby(request: Request) -> Response:
    query = parse_query(request, NearbyQuery)
    assert isinstance(query, NearbyQuery)

    answer = await search_bins(
        request.app.state.bins, query.category, query.lat, query.lon, query.locale, query.radius_m, query.limit
    )
    return MsgspecResponse(answer, headers={"Cache-Control": "no-store"})
