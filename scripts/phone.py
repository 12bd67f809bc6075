"""The phone's side of the flow, as the mobile app runs it.

create → upload straight to storage → start → poll every 0.5 s until the job
ends. Used by the terminal demo, the tests and the benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

ENDED = ("finished", "failed", "canceled")


class FlowError(Exception):
    """The API answered something the phone cannot go on from."""

    def __init__(self, step: str, response: httpx.Response) -> None:
        self.step = step
        self.response = response
        super().__init__(f"{step} failed with HTTP {response.status_code}: {response.text[:300]}")


class PhoneClient:
    def __init__(self, client: httpx.Client, client_id: str | None = None) -> None:
        self.client = client
        self.headers = {"X-Client-Id": client_id} if client_id else {}

    def create(
        self,
        lat: float | None = None,
        lon: float | None = None,
        locale: str = "ko",
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"locale": locale}
        if lat is not None and lon is not None:
            body.update(lat=lat, lon=lon)
        if size is not None:
            body["size"] = size
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = self.client.post("/api/v1/waste/analyze", json=body, headers=headers)
        if response.status_code != 202:
            raise FlowError("create", response)
        return response.json()

    def upload(self, descriptor: dict[str, Any], data: bytes, content_type: str = "image/jpeg") -> httpx.Response:
        """Send the photo to storage with the presigned descriptor, as a phone would."""
        if descriptor["method"] == "POST":
            response = httpx.post(
                descriptor["url"],
                data=descriptor["fields"],
                files={"file": ("photo", data, content_type)},
                timeout=30.0,
            )
        else:
            response = httpx.put(descriptor["url"], content=data, headers=descriptor.get("headers") or {}, timeout=30.0)
        if response.status_code >= 300:
            raise FlowError("upload", response)
        return response

    def start(self, job_id: str) -> httpx.Response:
        return self.client.post(f"/api/v1/waste/jobs/{job_id}/start", headers=self.headers)

    def analyze_image(
        self, data: bytes, content_type: str = "image/jpeg", params: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self.client.post(
            "/api/v1/waste/analyze",
            content=data,
            params=params or {},
            headers={**self.headers, "Content-Type": content_type},
        )

    def poll(
        self,
        status_url: str,
        interval_s: float = 0.5,
        timeout_s: float = 60.0,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Poll until the job ends; returns every status document seen.

        A failed poll (network error, 5xx, 429) is retried on the next tick, the
        way the mobile client does it; `Retry-After` stretches the wait.
        """
        documents: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        etag: str | None = None
        while time.monotonic() < deadline:
            wait_s = interval_s
            try:
                headers = dict(self.headers)
                if etag:
                    headers["If-None-Match"] = etag
                response = self.client.get(status_url, headers=headers)
            except httpx.HTTPError:
                time.sleep(wait_s)
                continue
            if response.status_code == 200:
                etag = response.headers.get("etag")
                document = response.json()
                documents.append(document)
                if on_status:
                    on_status(document)
                if document["status"] in ENDED:
                    return documents
            elif response.status_code == 304:
                pass
            elif response.status_code in (429, 503):
                wait_s = max(interval_s, float(response.headers.get("retry-after", interval_s)))
            elif response.status_code < 500:
                raise FlowError("poll", response)
            time.sleep(wait_s)
        raise TimeoutError(f"job at {status_url} did not end within {timeout_s:.0f} s")

    def run(
        self,
        data: bytes,
        lat: float | None = None,
        lon: float | None = None,
        locale: str = "ko",
        content_type: str = "image/jpeg",
        timeout_s: float = 60.0,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """The whole flow through the presigned descriptor; returns the status documents seen."""
        created = self.create(lat=lat, lon=lon, locale=locale, size=len(data))
        self.upload(created["upload"], data, content_type)
        started = self.start(created["job_id"])
        if started.status_code != 202:
            raise FlowError("start", started)
        first = started.json()
        if on_status:
            on_status(first)
        if first["status"] in ENDED:
            return [first]
        return [first, *self.poll(created["status_url"], timeout_s=timeout_s, on_status=on_status)]
