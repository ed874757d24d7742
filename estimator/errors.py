"""Exceptions that a user can cause, each with a message a person can act on.

Pages show them with ``st.error``; the CLI exits with status 2 and prints the message.
"""

from __future__ import annotations

__all__ = [
    "EstimatorError",
    "InvalidInputError",
    "UnknownIdError",
    "CatalogError",
    "ConfigError",
    "DoesNotFitError",
    "StoreError",
]


class EstimatorError(Exception):
    """Base class of every error the estimator raises on purpose."""


class InvalidInputError(EstimatorError, ValueError):
    """An argument is out of range, not a number, or an impossible combination."""


class UnknownIdError(EstimatorError, KeyError):
    """A catalog id (model, hardware, instance, region) does not exist.

    The message names the closest matching ids.
    """

    def __init__(self, kind: str, wanted: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.wanted = wanted
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown {kind} id {wanted!r}.{hint}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class CatalogError(EstimatorError):
    """A reference CSV in ``data/`` is missing, malformed or inconsistent."""


class ConfigError(EstimatorError, ValueError):
    """A Hugging Face ``config.json`` is malformed or lacks a required key."""


class DoesNotFitError(EstimatorError):
    """A configuration does not fit in accelerator memory."""


class StoreError(EstimatorError):
    """The saved-scenario store cannot be used (unreachable, busy, damaged); the message says what to do."""
