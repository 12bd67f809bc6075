"""The service's exception tree.

    ServiceError                  every error the service raises on purpose
     +-- RequestError             the client sent something wrong (4xx)
     +-- DependencyError          Redis or storage did not answer (503)
     +-- JobFailure               a job ends as `failed` with this code

Each error carries a snake_case `code` from the README's table and the values
its message template needs; the message itself comes from the locale catalogue.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "internal_error"
    http_status = 500

    def __init__(self, code: str | None = None, *, http_status: int | None = None, detail: str = "", **values: object):
        self.code = code or self.code
        self.http_status = http_status or self.http_status
        self.values = dict(values, detail=detail)
        self.headers: dict[str, str] = {}
        super().__init__(f"{self.code}: {detail}" if detail else self.code)


class RequestError(ServiceError):
    http_status = 400


class DependencyError(ServiceError):
    http_status = 503


class JobFailure(ServiceError):
    """Ends the job as `failed`; raised inside the worker's pipeline."""

    http_status = 422


class JobCanceled(Exception):
    """Raised inside the pipeline when DELETE /jobs/{id} asked it to stop."""
