"""User-facing configuration errors: one line that names the setting and what is allowed."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ConfigError(ValueError):
    """A user mistake in a setting, reported as ``<setting> must be <allowed> (got <value>)``."""

    def __init__(self, setting: str, allowed: str, got: Any = None, detail: str = "") -> None:
        self.setting = setting
        self.allowed = allowed
        self.got = got
        self.detail = detail
        super().__init__(self._render())

    def _render(self) -> str:
        message = f"{self.setting} must be {self.allowed}"
        if self.got is not None:
            message += f" (got {self.got!r})"
        if self.detail:
            message += f": {self.detail}"
        return message

    def within(self, group: str) -> ConfigError:
        """The same error with its setting named by its full config key, e.g. ``model.hidden_size``."""
        if self.setting.startswith(f"{group}."):
            return self
        return ConfigError(f"{group}.{self.setting}", self.allowed, self.got, self.detail)


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first line (library messages can run to pages)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def check_int(setting: str, value: Any, minimum: int) -> int:
    """Accept an integer >= minimum (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(setting, f"an integer >= {minimum}", value)
    return value


def check_number(setting: str, value: Any, minimum: float, allowed: str | None = None) -> float:
    """Accept a real number >= minimum (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(setting, allowed or f"a number >= {minimum}", value)
    return float(value)


def check_choice(setting: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise ConfigError(setting, "one of " + ", ".join(choices), value)
    return value


@contextmanager
def config_group(group: str) -> Iterator[None]:
    """Name errors raised while building a config group by their full key.

    Hydra's ``instantiate`` wraps constructor errors; this unwraps a ConfigError found in the
    cause chain so the user sees ``data.window must be ...`` rather than a traceback.
    """
    try:
        yield
    except Exception as error:
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause.within(group) from None


def did_you_mean(name: str, known) -> str:
    """``; did you mean <the closest known name>?``, or nothing when none is close."""
    import difflib

    others = sorted(str(k) for k in known if str(k) != str(name))
    closest = difflib.get_close_matches(str(name), others, n=1)
    return f"; did you mean {closest[0]}?" if closest else ""


# what a write can meet once a command is under way (a full disk, a folder that stops being
# writable), in words
WRITE_FAULTS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file is larger than the system allows",
    errno.EROFS: "the file system became read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "an input/output error",
}


def write_fault_in(error: BaseException | None) -> OSError | None:
    """The failed write behind ``error``: itself, or the cause a library wrapped it in
    (Lightning's TensorBoard logger raises a ValueError from the OSError)."""
    while error is not None and not isinstance(error, ConfigError):  # a setting's line says more
        if isinstance(error, OSError) and error.errno in WRITE_FAULTS:
            return error
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return None
