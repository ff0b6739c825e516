"""The exchange's refusals: a stable code, a message and details, in the domain's own terms.

The exchange knows nothing of HTTP; the API maps each code to a status (api/errors.py,
`EXCHANGE_STATUS`), so the same refusal reads the same through the API, the CLI and tests.
"""

from __future__ import annotations

from typing import Any


class ExchangeError(Exception):
    """A refused request: nothing was journaled or changed."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
