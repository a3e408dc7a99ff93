"""A CSV's time column as people write it, and the step that continues it.

Dates are read by dateutil (ISO 8601 first, by the standard library), so ``2012/01/01``,
``01/31/2024 13:00`` and ``31.01.2024`` all read. Where day and month could be either
(``01/02/2024``), the column decides: a first number above 12 means day first, a second
above 12 month first; a column where neither happens is ambiguous and needs
``data.time_format`` (strptime's codes, e.g. ``%d/%m/%Y %H:%M``), as does one that mixes
both orders. Times with an offset are taken to UTC.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rnnlab.errors import ConfigError

# a date that starts with two numbers of one or two digits and a year: day and month, in
# some order
_SHORT_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")
# freq=: a number and a unit (``1h``, ``15min``, ``1D``), or a number for numeric times
_FREQ = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "s": "seconds", "sec": "seconds", "min": "minutes", "t": "minutes", "h": "hours",
    "d": "days", "w": "weeks",
}  # fmt: skip
FREQ_ALLOWED = "a number and a unit: s, min, h, D or W (e.g. 1h, 15min, 1D), or a number for numeric times"


def parse_times(
    name: str, cells: Sequence[str], lines: Sequence[int], time_format: str | None = None
) -> list:
    """The column's cells as numbers, or as datetimes (naive, UTC where an offset was given);
    a cell that does not read is a ConfigError naming its line."""
    if time_format is None:
        if cells and _number(cells[0]) is not None:  # a numeric column: the first cell says so
            for cell, line in zip(cells, lines, strict=True):
                if _number(cell) is None:
                    raise ConfigError(
                        "time_column", "a column of numbers throughout (its first row holds one)", name,
                        f"line {line} holds {cell!r}",
                    )  # fmt: skip
            return [float(cell) for cell in cells]
        try:
            return [_utc(datetime.fromisoformat(cell)) for cell in cells]
        except ValueError:
            pass
    reader = _reader(name, cells, time_format)
    times = []
    for cell, line in zip(cells, lines, strict=True):
        try:
            times.append(_utc(reader(cell)))
        except (ValueError, OverflowError):
            allowed = (
                f"dates in data.time_format {time_format!r}"
                if time_format
                else "a column of dates (e.g. 2024-01-31 13:00, 2024/01/31, 01/31/2024) or of numbers"
            )
            raise ConfigError("time_column", allowed, name, f"line {line} holds {cell!r}") from None
    return times


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _reader(name: str, cells: Sequence[str], time_format: str | None):
    """A function from a cell to a datetime: strptime with the format given, else dateutil
    with the day-month order the column shows."""
    if time_format is not None:
        return lambda cell: datetime.strptime(cell, time_format)
    from dateutil import parser

    orders = [match.groups()[:2] for match in map(_SHORT_DATE.match, cells) if match]
    day_first = any(int(first) > 12 for first, _ in orders)
    month_first = any(int(second) > 12 for _, second in orders)
    if (day_first and month_first) or (
        orders and not (day_first or month_first) and any(a != b for a, b in orders)
    ):
        problem = "mixes day-first and month-first dates" if day_first else "could be day or month first"
        raise ConfigError(
            "time_format",
            "the column's date format, e.g. '%d/%m/%Y %H:%M' or '%m/%d/%Y' (strptime's codes)",
            None,
            f"column {name!r} {problem} ({cells[0]!r})",
        )

    def read(cell: str) -> datetime:
        try:
            return parser.parse(cell, dayfirst=day_first)
        except parser.ParserError as error:
            raise ValueError(str(error)) from None

    return read


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def series_step(times: Sequence, freq: str | None = None, setting: str = "freq"):
    """The step between rows: the one every row keeps (a timedelta, or a number for numeric
    times), or ``freq`` for an irregular column, which must give one; a ``freq`` that
    contradicts a regular column's step is refused (the model learned that step)."""
    numeric = not isinstance(times[-1], datetime)
    steps = {b - a for a, b in itertools.pairwise(times)}
    if freq is not None:
        step = parse_freq(freq, numeric, setting)
        if len(steps) == 1 and step != next(iter(steps)):
            raise ConfigError(
                setting,
                f"null or the time column's own step ({next(iter(steps))}): the rows are evenly spaced",
                freq,
            )
        return step
    if len(steps) != 1:
        shown = ", ".join(str(step) for step in sorted(steps)[:3])
        raise ConfigError(
            setting,
            FREQ_ALLOWED + ": the time column's rows are not evenly spaced",
            None,
            f"its steps include {shown}",
        )
    return steps.pop()


def parse_freq(freq, numeric: bool, setting: str = "freq"):
    """``freq`` as a timedelta (``1h``, ``15min``, ``1D``) or, for numeric times, a number."""
    match = _FREQ.match(str(freq)) if not isinstance(freq, bool) else None
    unit = match[2].lower() if match else None
    if match is None or float(match[1]) <= 0 or (numeric and unit) or (not numeric and unit not in _UNITS):
        allowed = "a positive number (the time column is numeric)" if numeric else FREQ_ALLOWED
        raise ConfigError(setting, allowed, freq)
    amount = float(match[1])
    return amount if numeric else timedelta(**{_UNITS[unit]: amount})


def continue_times(last, step, count: int) -> list:
    """``count`` times after ``last``, ``step`` apart."""
    return [last + step * (i + 1) for i in range(count)]


def format_time(moment) -> str:
    """A time as the forecast file writes it: ISO 8601 (to the minute where it can), or the
    number."""
    if isinstance(moment, datetime):
        if moment.second or moment.microsecond:
            return moment.isoformat(sep=" ")
        return moment.isoformat(sep=" ", timespec="minutes")
    return f"{moment:g}"
