"""Errors a user can act on: printed as one clear message (and a JSON event), never a traceback."""
from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; `code` is stable for scripts, the message says what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
