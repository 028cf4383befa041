"""The app's domain errors. Their messages are shown to the user as they are, so each says how to fix the problem.

The UI turns these into a friendly message in exactly one place (``ui.messages.user_message``). Anything else
that escapes is a bug and is shown as a generic error with the exception type.
"""

from __future__ import annotations


class AppError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""


class ModelUnavailableError(AppError):
    """The model's files are missing, corrupt, or cannot be downloaded (offline, unknown id)."""


class EngineLoadError(AppError):
    """The engine could not start with this model/settings (out of memory, unsupported architecture or shape)."""


class SettingsError(AppError):
    """A setting is out of range or inconsistent (the message names the setting and the allowed range)."""
