"""Flags of the argparse entry points (rnnlab-report, rnnlab-bench) in rnnlab's error format.

A mistake is one line, ``<prog>: error: <flag> must be <allowed> (got <value>)``, exit 2, no
usage block: ``Parser.error`` is argparse's documented hook for how errors are reported, and
the checks are argparse ``type=`` functions, so that every value is checked while parsing,
before any work starts.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn

from rnnlab.errors import ConfigError, did_you_mean


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the flag and what it takes."""

    def error(self, message: str) -> NoReturn:
        # argparse words a value's error "argument --repeats: <what the type function said>"
        flag = re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message)
        if flag:
            message = f"{flag.group(1)} {flag.group(2)}"
        required = re.match(r"the following arguments are required: (.*)", message)
        if required:
            message = f"{required.group(1)} must be given (see {self.prog} --help)"
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown:
            options = [o for action in self._actions for o in action.option_strings]
            given = unknown.group(1).split("=", 1)[0]
            message = (
                f"{given} must be one of the flags {', '.join(options)}"
                f"{did_you_mean(given, options)} (got '{unknown.group(1)}')"
            )
        self.exit(2, f"{self.prog}: error: {message}\n")

    def refuse(self, error: ConfigError | str) -> NoReturn:
        """A mistake found after parsing (a metric no job wrote), in the same format."""
        self.exit(2, f"{self.prog}: error: {error}\n")


def _must(allowed: str, value: str, detail: str = "") -> argparse.ArgumentTypeError:
    # argparse prefixes "argument <flag>: "; Parser.error turns that into "<flag> "
    return argparse.ArgumentTypeError(str(ConfigError("", allowed, value, detail)).lstrip(" "))


def integer(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise _must(f"an integer >= {minimum}", text)
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def name(text: str) -> str:
    """A name (a metric, a key): not empty."""
    if not text.strip():
        raise _must("a name, not empty", text)
    return text


def one_of(choices: Iterable[str]) -> Callable[[str], str]:
    known = list(choices)

    def parse(text: str) -> str:
        if text not in known:
            raise _must(f"one of {', '.join(known)}{did_you_mean(text, known)}", text)
        return text

    return parse


def new_file(text: str) -> Path:
    """A file to write at the end: its folder must exist and be writable now, not after the work."""
    path = Path(text).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise _must("a file path, not a directory", text)
    if not folder.is_dir():
        raise _must("a file in an existing directory", text, f"no directory {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _must("a file rnnlab can write", text, "permission denied")
    return path
