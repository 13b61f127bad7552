"""What the operator's TOML files may hold, declared once per file, so that a misspelt section or
key, a missing key or a value of the wrong kind is refused at load instead of silently ignored."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar, cast

from client.core.text import LINE_UNSAFE
from server.errors import ConfigError
from server.logs import escaped

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

# Problems named in one refusal; the rest are counted.
MAX_PROBLEMS = 10
_SHOWN_TEXT = 60


class _Required(enum.Enum):
    REQUIRED = "required"


REQUIRED: Final = _Required.REQUIRED


@dataclass(frozen=True)
class Kind(Generic[T]):
    """A kind of value: how a refusal describes it, and how a TOML value becomes one (parse
    raises ValueError for a value not of this kind)."""

    description: str
    parse: Callable[[object], T]


@dataclass(frozen=True, eq=False)
class Key(Generic[T]):
    """One key of a table: the kind of its value, and its value when the key is left out."""

    name: str
    kind: Kind[T]
    default: T | _Required = REQUIRED


@dataclass(frozen=True)
class Table:
    """The keys one TOML table may hold."""

    name: str
    keys: tuple[Key[Any], ...]

    def allowed(self) -> str:
        return ", ".join(sorted(k.name for k in self.keys))


class Values:
    """The checked values of one or more tables, read by their keys."""

    def __init__(self) -> None:
        self._values: dict[Key[Any], object] = {}

    def __getitem__(self, key: Key[T]) -> T:
        return cast(T, self._values[key])

    def __setitem__(self, key: Key[T], value: T) -> None:
        self._values[key] = value

    def update(self, other: Values) -> None:
        self._values.update(other._values)


class Problems:
    """Everything wrong with one file, refused together: the first in full, a bounded number
    after it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._found: list[str] = []

    def add(self, problem: str) -> None:
        self._found.append(problem)

    def __len__(self) -> int:
        return len(self._found)

    def raise_if_any(self) -> None:
        if not self._found:
            return
        named = self._found[:MAX_PROBLEMS]
        more = len(self._found) - len(named)
        text = "; ".join(named) + (f"; and {more} more" if more else "")
        raise ConfigError(f"{self.source}: {text}")


def shown(value: object) -> str:
    """A TOML value as a refusal quotes it: scalars themselves (long text cut), others by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        cut = value if len(value) <= _SHOWN_TEXT else value[:_SHOWN_TEXT] + "…"
        return '"' + escaped(cut).replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.date | dt.time):
        return "a date or time"
    return type(value).__name__


def read_table(table: object, keys: Table, where: str, problems: Problems) -> Values:
    """The values of one table by its keys. Each problem is added, named with `where` (`[store] `,
    `participant nl: `), and reading goes on, so one pass finds them all; the values are only
    complete when no problem was added."""
    values = Values()
    if not isinstance(table, dict):
        problems.add(f"{where.rstrip(': ')} must be a table (got {shown(table)})")
        return values
    for name in sorted(set(table) - {k.name for k in keys.keys}):
        problems.add(f"{where}{escaped(name)} is not a known key (allowed: {keys.allowed()})")
    for key in keys.keys:
        if key.name not in table:
            if key.default is REQUIRED:
                problems.add(f"{where}{key.name} is required ({key.kind.description})")
            else:
                values[key] = key.default
            continue
        raw = table[key.name]
        try:
            values[key] = key.kind.parse(raw)
        except ValueError:
            problems.add(f"{where}{key.name} must be {key.kind.description} (got {shown(raw)})")
    return values


def read_sections(raw: Mapping[str, object], tables: Sequence[Table], problems: Problems) -> Values:
    """The values of a file made of named sections, each optional as a whole."""
    known = {t.name: t for t in tables}
    allowed = ", ".join(f"[{name}]" for name in sorted(known))
    for name in sorted(set(raw) - set(known)):
        problems.add(f"[{escaped(name)}] is not a known section (allowed: {allowed})")
    values = Values()
    for table in tables:
        section = read_table(raw.get(table.name, {}), table, f"[{table.name}] ", problems)
        values.update(section)
    return values


def _kind(description: str, accept: Callable[[object], T | None]) -> Kind[T]:
    def parse(value: object) -> T:
        parsed = accept(value)
        if parsed is None:
            raise ValueError(description)
        return parsed

    return Kind(description, parse)


def integer(low: int, high: int | None = None) -> Kind[int]:
    """Whole numbers from low to high (TOML booleans are not numbers here)."""
    description = f"an integer {low}-{high}" if high is not None else f"an integer >= {low}"

    def accept(value: object) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return None
        return value if high is None or value <= high else None

    return _kind(description, accept)


def choice(kind: type[E]) -> Kind[E]:
    """One of an enumeration's values, written as its string."""
    names = [str(member.value) for member in kind]
    description = "one of " + ", ".join(f'"{n}"' for n in names)

    def accept(value: object) -> E | None:
        return kind(value) if isinstance(value, str) and value in names else None

    return _kind(description, accept)


def optional(kind: Kind[T]) -> Kind[T | None]:
    """The same kind, for a key whose default is None."""
    return Kind(kind.description, kind.parse)


def text(description: str, check: Callable[[str], bool] = lambda _: True) -> Kind[str]:
    """A string, not empty and without control characters, that passes check."""

    def accept(value: object) -> str | None:
        if not isinstance(value, str) or not value or LINE_UNSAFE.search(value):
            return None
        return value if check(value) else None

    return _kind(description, accept)


_PATH_TEXT = text("a file path")
PATH: Final = Kind(_PATH_TEXT.description, lambda value: Path(_PATH_TEXT.parse(value)))
