"""The error type that route handlers raise."""

from __future__ import annotations


class ApiError(Exception):
    """An error response in the Customer.io error envelope."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
