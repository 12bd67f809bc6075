"""GET /api/v1/waste/advice: advice and collection points for a category the user picked.

The phone calls it when the recognised category is `unknown` or has a low
confidence. The person picks the category from the list and receives, from the
rules catalogue, the parts of a result that a job gives for that category.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.bins import parse_query, search_bins
from api.responses import MsgspecResponse
from jobs.bins import DEFAULT_LIMIT, DEFAULT_RADIUS_M
from jobs.catalogue import Catalogue
from jobs.documents import AdviceQuery, AdviceResponse, Bin, WasteAnswer
from jobs.errors import RequestError
from jobs.feedback import catalogue_feedback
from jobs.messages import Messages
from jobs.vision import OFFLINE_PROVIDER

# The `provider` of a category that the person picked instead of a model.
USER_PROVIDER = "user"


async def advice(request: Request) -> Response:
    query = parse_query(request, AdviceQuery)
    assert isinstance(query, AdviceQuery)
    if (query.lat is None) != (query.lon is None):
        raise RequestError("invalid_request", http_status=422, detail="lat and lon must be sent together")

    catalogue: Catalogue = request.app.state.catalogue
    messages: Messages = request.app.state.messages
    waste = WasteAnswer(
        category=query.category,
        label=catalogue.label(query.category, query.locale),
        confidence=1.0,
        provider=USER_PROVIDER,
    )
    feedback = catalogue_feedback(catalogue, messages, query.category, query.locale, OFFLINE_PROVIDER)
    bins: list[Bin] = []
    if query.lat is None or query.lon is None:
        bins_note = messages.bins_note(query.locale, "no_location")
    else:
        found = await search_bins(
            request.app.state.bins, query.category, query.lat, query.lon, query.locale, DEFAULT_RADIUS_M, DEFAULT_LIMIT
        )
        bins, bins_note = found.bins, found.note

    body = AdviceResponse(waste=waste, feedback=feedback, bins=bins, bins_note=bins_note)
    return MsgspecResponse(body, headers={"Cache-Control": "no-store"})
