"""One exception tree. Every message says what went wrong and what to do next."""

from __future__ import annotations


class BakeoffError(Exception):
    """Base of every error bakeoff raises on purpose.

    ``exit_code`` is what the CLI exits with when this error reaches it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class UsageError(BakeoffError):
    """The user asked for something inconsistent (bad flag, bad value)."""

    exit_code = 2


class MissingExtraError(UsageError):
    """A command needs an optional extra that is not installed (``bakeoff serve`` without ``[serve]``)."""

    def __init__(self, what: str, extra: str, packages: str) -> None:
        super().__init__(
            f"{what} needs {packages}, which is not installed",
            hint=f"pip install 'bakeoff[{extra}]'",
        )
        self.extra = extra


class ConfigError(UsageError):
    """A configuration file or value is malformed; names the file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = source or "<config>"
        if line is not None:
            where += f":{line}"
        if key:
            where += f" [{key}]"
        super().__init__(f"{where}: {message}", hint=hint)
        self.source = source
        self.line = line
        self.key = key


class ModelError(BakeoffError):
    """A model cannot be used: unknown alias, missing weights, failed load, dead endpoint."""


class ModelNotFoundError(ModelError):
    """No model of that name exists at the place we looked."""


class BackendUnavailableError(ModelError):
    """An optional engine is not installed; the hint says which extra to install."""


class DownloadError(ModelError):
    """Fetching or assembling model weights failed (offline, checksum mismatch, disk)."""


class RequestError(BakeoffError):
    """One request failed: HTTP error, broken or stalled stream, engine failure.

    ``kind`` is a short stable tag (``http``, ``connect``, ``timeout``, ``broken_stream``,
    ``malformed``, ``engine``) kept in records so failures can be grouped.
    """

    def __init__(self, kind: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


class ReportError(BakeoffError):
    """A saved report cannot be read (missing, corrupt, newer schema)."""
