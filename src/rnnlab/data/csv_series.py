"""A forecasting task from a user's CSV file: its target and covariate columns, an optional
time column (data/times.py reads the dates), gaps filled or refused, the delimiter read
from the header, and the rows past the last target value that hold the covariates' future
(what rnnlab-predict reads them from)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from rnnlab.data.files import read_utf8
from rnnlab.data.series import Frame, SeriesDataModule
from rnnlab.data.times import parse_times
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError

# what a cell holds where a value is missing, as spreadsheets and pandas export it
GAPS = ("", "na", "nan", "n/a", "null", "none")
DELIMITERS = (",", ";", "\t", "|")


class CsvSeriesDataModule(SeriesDataModule):
    """Columns of a CSV file with a header row: ``target`` (one column, or a list of them to
    forecast together) and ``covariates`` (past covariates: columns the model reads but does
    not forecast), rows in time order, or ordered by ``time_column`` which is checked.

    The delimiter (comma, semicolon, tab or bar) is read from the header unless set; UTF-8
    with or without a byte-order mark, and any line ending. Missing values (an empty cell,
    NA, NaN, null) stop the run naming the first one, or are filled (``missing``: ffill
    carries the last value forward, interpolate draws a line between the neighbours).

    Rows at the end whose targets are all empty and whose covariates all hold values are
    the covariates' known future: training leaves them out, a forecast past the last
    target value reads them (``Frame.future``)."""

    source = "path"
    # a user's series: the linear forecast is the one to beat (docs/benchmarks.md, the highway)
    highway = True

    @declared
    def __init__(
        self,
        path: Annotated[str, Field(min_length=1, description="the CSV file (relative to where you start)")],
        target: Annotated[
            str | Sequence[str] | None,
            Field(
                description="the column to forecast, or a list of them forecast together",
                json_schema_extra={"allowed": "a column header or a list of them"},
            ),
        ] = None,
        covariates: Annotated[
            str | Sequence[str],
            Field(
                description="past covariates: columns the model reads but does not forecast",
                json_schema_extra={"allowed": "a list of column headers"},
            ),
        ] = (),
        time_column: Annotated[
            str | None,
            Field(
                min_length=1,
                description="a column of dates or numbers that orders the rows (null: file order)",
                json_schema_extra={"allowed": "a column's header, or null for rows in file order"},
            ),
        ] = None,
        missing: Annotated[
            Literal["error", "ffill", "interpolate"],
            Field(description="a gap stops the run, or is filled forward, or by a line between neighbours"),
        ] = "error",
        delimiter: Annotated[
            str | None,
            Field(
                description="the field separator (null: read from the header; tab: \\t or tab)",
                json_schema_extra={
                    "allowed": "one character (',' ';' tab), or null to read it from the header"
                },
            ),
        ] = None,
        time_format: Annotated[
            str | None,
            Field(
                min_length=1,
                description="the time column's date format in strptime's codes, where day and month "
                "could be either (null: read it)",
                json_schema_extra={"allowed": "a format such as '%d/%m/%Y %H:%M', or null"},
            ),
        ] = None,
        column: Annotated[str | None, Field(description="target's old name")] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # the setting the targets came from, named in errors: column is target's old name
        self.target_setting = "target"
        if column is not None:
            if target is not None:
                raise ConfigError("column", "null when data.target is set (column is its old name)", column)
            target, self.target_setting = column, "column"
        self.targets = _names(self.target_setting, target)
        self.covariates = _names("covariates", covariates, empty=True)
        for name in self.covariates:
            if name in self.targets:
                raise ConfigError("covariates", "columns other than the targets (data.target)", name)
        if time_column in (*self.targets, *self.covariates):
            raise ConfigError("time_column", "a column that is neither a target nor a covariate", time_column)
        self.time_column = time_column
        self.time_format = time_format
        self.missing = missing
        if delimiter in ("\\t", "tab"):  # a tab is hard to type in a Hydra override
            delimiter = "\t"
        if delimiter is not None and len(delimiter) != 1:
            raise ConfigError(
                "delimiter",
                "one character (',' ';' tab), or null to read it from the header",
                delimiter,
            )
        self.path = Path(path).expanduser()
        self.delimiter = delimiter

    def load_frame(self) -> Frame:
        lines = read_utf8(self.path, "CSV").splitlines()
        delimiter = self.delimiter or _sniff(lines[0])
        rows = csv.reader(lines, delimiter=delimiter)
        header = [name.strip() for name in next(rows)]
        wanted = [*self.targets, *self.covariates] + ([self.time_column] if self.time_column else [])
        for name in wanted:
            if name not in header:
                raise ConfigError(
                    self._setting(name),
                    "one of the file's columns: " + ", ".join(header),
                    name,
                    self._delimiter_hint(header, delimiter),
                )
            if header.count(name) > 1:
                raise ConfigError(
                    "path",
                    "a CSV file whose header names each column once",
                    str(self.path),
                    f"{name!r} twice",
                )
        where = {name: header.index(name) for name in wanted}
        cells: dict[str, list[str]] = {name: [] for name in wanted}
        line_numbers = []
        for line_number, row in enumerate(rows, start=2):
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise ConfigError(
                    "path",
                    f"a CSV file whose rows have as many fields as its header ({len(header)})",
                    str(self.path),
                    f"line {line_number} has {len(row)}",
                )
            line_numbers.append(line_number)
            for name, index in where.items():
                cells[name].append(row[index].strip())
        future = _future_rows(cells, self.targets, self.covariates)
        known = len(line_numbers) - future
        columns = [
            self._numbers(name, cells[name][:known], line_numbers)
            for name in (*self.targets, *self.covariates)
        ]
        times = None
        if self.time_column is not None:
            times = parse_times(self.time_column, cells[self.time_column], line_numbers, self.time_format)
            _check_increasing(self.time_column, times, cells[self.time_column], line_numbers)
        ahead = [self._numbers(name, cells[name][known:], line_numbers[known:]) for name in self.covariates]
        return Frame(
            np.stack(columns, axis=1),
            tuple(self.targets),
            None if times is None else times[:known],
            np.stack(ahead, axis=1) if future and ahead else None,
            None if times is None or not future else times[known:],
        )

    def _numbers(self, name: str, cells: list[str], line_numbers: list[int]) -> np.ndarray:
        """One column's values, with its gaps filled as ``missing`` says."""
        values = np.empty(len(cells))
        for i, cell in enumerate(cells):
            if cell.lower() in GAPS:
                values[i] = np.nan
                continue
            try:
                values[i] = float(cell)
            except ValueError:
                comma = cell.replace(",", "", 1).lstrip("+-").isdigit()
                hint = ": a decimal comma; save the file with decimal points" if comma else ""
                raise ConfigError(
                    self._setting(name),
                    "the name of a numeric column",
                    name,
                    f"line {line_numbers[i]} of {self.path} holds {cell!r}{hint}",
                ) from None
            if not math.isfinite(values[i]):
                raise ConfigError(
                    self._setting(name),
                    "the name of a column of finite numbers",
                    name,
                    f"line {line_numbers[i]} holds {cell!r}",
                )
        gaps = np.flatnonzero(np.isnan(values))
        if not len(gaps):
            return values
        first = line_numbers[gaps[0]]
        if self.missing == "error":
            raise ConfigError(
                "path",
                "a CSV file with a value in every row of the columns it uses",
                str(self.path),
                f"line {first} has no value in {name!r}: fill it, or set data.missing=ffill or interpolate",
            )
        if len(gaps) == len(values):
            raise ConfigError(
                "path", "a CSV file with values to fill gaps from", str(self.path), f"{name!r} is empty"
            )
        known = np.flatnonzero(~np.isnan(values))
        if self.missing == "ffill":
            if gaps[0] < known[0]:
                raise ConfigError(
                    "missing",
                    "interpolate for a column that starts with a gap (ffill has nothing to carry forward)",
                    "ffill",
                    f"line {first} has no value in {name!r}",
                )
            carried = np.maximum.accumulate(np.where(np.isnan(values), 0, np.arange(len(values))))
            return values[carried]
        # a line between the neighbours by row; a gap at either end takes the nearest value
        return np.interp(np.arange(len(values)), known, values[known])

    def _setting(self, name: str) -> str:
        """The data setting that names column ``name``."""
        if name == self.time_column:
            return "time_column"
        return self.target_setting if name in self.targets else "covariates"

    def _delimiter_hint(self, columns: list[str], delimiter: str) -> str:
        """When the header reads as one column holding another separator, say which."""
        if len(columns) != 1:
            return ""
        for other in DELIMITERS:
            if other != delimiter and other in columns[0]:
                setting = "tab" if other == "\t" else other
                return (
                    f"the header reads as one column because the file is separated by {other!r}, "
                    f"not {delimiter!r}: set data.delimiter='{setting}'"
                )
        return ""


def _names(setting: str, value, empty: bool = False) -> list[str]:
    """A column name (``data.covariates=temperature`` on the command line) or a list of
    distinct names, as a list."""
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    allowed = "a list of column headers" if empty else "a column header or a list of them"
    if names is None or (not names and not empty) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(setting, allowed, value if value is None or isinstance(value, str | int) else names)
    if len(set(names)) != len(names):
        raise ConfigError(setting, f"{allowed}, each named once", names)
    return names


def _sniff(header: str) -> str:
    """The delimiter that splits the header into the most fields (a one-column file: comma)."""
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _future_rows(cells: dict[str, list[str]], targets: list[str], covariates: list[str]) -> int:
    """How many rows at the end have every target empty and every covariate filled (none
    without covariates: there is no future to read)."""
    if not covariates:
        return 0
    rows = len(cells[targets[0]])
    count = 0
    while count < rows:
        row = rows - 1 - count
        if not all(cells[name][row].lower() in GAPS for name in targets):
            break
        if any(cells[name][row].lower() in GAPS for name in covariates):
            break
        count += 1
    return count if count < rows else 0


def _check_increasing(name: str, times: list, cells: list[str], line_numbers: list[int]) -> None:
    """Times must increase row by row."""
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            problem = "repeats the time of" if times[i] == times[i - 1] else "comes before"
            raise ConfigError(
                "time_column",
                "a column whose times increase row by row (sort the file by it, drop repeated rows)",
                name,
                f"line {line_numbers[i]} ({cells[i]}) {problem} line {line_numbers[i - 1]} ({cells[i - 1]})",
            )
