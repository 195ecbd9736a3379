"""Google API error envelope (google.rpc.Status as JSON) for simulator responses."""

from __future__ import annotations

CANONICAL = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

SERVICE = "health.googleapis.com"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


class ApiError(Exception):
    """An error response of the API.

    Args:
        code: HTTP status.
        message: developer-facing message.
        reason: ErrorInfo reason; None sends no details (as some real errors do).
        status: canonical code name, default from the HTTP status.
        domain: ErrorInfo domain.
        metadata: ErrorInfo metadata (strings only).
        headers: extra response headers.
        field_violations: (field, description) pairs, sent as a google.rpc.BadRequest
            detail after the ErrorInfo.
    """

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        status: str | None = None,
        domain: str = SERVICE,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        field_violations: tuple[tuple[str, str], ...] = (),
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.status = status or CANONICAL[code]
        self.domain = domain
        self.metadata = metadata or {}
        self.headers = headers or {}
        self.field_violations = field_violations

    def envelope(self, method: str | None = None) -> dict:
        error: dict = {"code": self.code, "message": self.message, "status": self.status}
        if self.reason:
            metadata = {"service": SERVICE, **self.metadata}
            if method:
                metadata.setdefault("method", method)
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason,
                    "domain": self.domain,
                    "metadata": metadata,
                }
            ]
        if self.field_violations:
            error.setdefault("details", []).append(
                {
                    "@type": BAD_REQUEST_TYPE,
                    "fieldViolations": [
                        {"field": field, "description": description}
                        for field, description in self.field_violations
                    ],
                }
            )
        return {"error": error}


def invalid(message: str, reason: str | None = None) -> ApiError:
    return ApiError(400, message, reason)


def invalid_filter(message: str, detailed_reason: str) -> ApiError:
    """400 for a `filter` the API cannot use, worded as the live API words it.

    The ErrorInfo's reason is always `INVALID_DATA_POINT_FILTER`; the finer cause
    (`INVALID_DATA_POINT_FILTER_SYNTAX`, `..._DATA_TYPE_MEMBER`, ...) travels in its
    `metadata.detailedReasons`, and a google.rpc.BadRequest names the `filter` field.
    """
    return ApiError(
        400,
        message,
        "INVALID_DATA_POINT_FILTER",
        metadata={"detailedReasons": detailed_reason},
        field_violations=(("filter", message),),
    )


def not_found() -> ApiError:
    """404 for a resource that does not exist (a data point, a paired device)."""
    return ApiError(404, "Requested entity was not found.", "RESOURCE_NOT_FOUND")
