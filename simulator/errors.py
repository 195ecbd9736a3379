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
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.status = status or CANONICAL[code]
        self.domain = domain
        self.metadata = metadata or {}
        self.headers = headers or {}

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
        return {"error": error}


def invalid(message: str, reason: str | None = None) -> ApiError:
    return ApiError(400, message, reason)
