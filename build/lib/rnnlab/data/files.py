"""Reading a user's data file: one clear line for a file that is missing, empty, binary or
not UTF-8, instead of a UnicodeDecodeError traceback."""

from __future__ import annotations

from pathlib import Path

from rnnlab.errors import ConfigError


def read_utf8(path: Path, kind: str) -> str:
    """A UTF-8 file's contents (a byte-order mark dropped), or a ConfigError naming
    ``data.path`` and saying why it is not a ``kind`` file rnnlab can read."""
    if not path.is_file():
        raise ConfigError("path", f"an existing UTF-8 {kind} file", str(path))
    raw = path.read_bytes()
    if not raw:
        raise ConfigError("path", f"a non-empty UTF-8 {kind} file", str(path), "the file is empty")
    if b"\x00" in raw[:65536]:
        raise ConfigError("path", f"a UTF-8 {kind} file", str(path), "it holds NUL bytes, so it looks binary")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            "path",
            f"a UTF-8 {kind} file",
            str(path),
            f"byte 0x{raw[error.start]:02x} at offset {error.start} is not valid UTF-8 (save the file "
            "as UTF-8, e.g. iconv -f latin1 -t utf-8)",
        ) from None
