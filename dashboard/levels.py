"""Programme levels as configuration: names, activity menus and annual budgets.

Four levels, Level 4 the most invested relationship (metrics.md "Suggested
tier"). The defaults ship in ``dashboard/levels.toml``; a firm points the
environment variable ``REFPORT_LEVELS`` at its own copy. The file's
comments say what each field means.
"""

from __future__ import annotations

import math
import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DEFAULT_FILE = Path(__file__).resolve().with_name("levels.toml")
ENV = "REFPORT_LEVELS"
NUMBERS = (4, 3, 2, 1)
UNASSIGNED = "Unassigned"


class LevelsError(ValueError):
    """A levels file that cannot be used: says which file, which level and what to fix."""


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    menu: tuple[str, ...]
    activity_types: tuple[str, ...]
    budget_hours: float
    budget_money: float

    @property
    def label(self) -> str:
        return f"Level {self.number} · {self.name}"


@dataclass(frozen=True)
class Programme:
    levels: tuple[Level, ...]  # Level 4 first
    under_served_below: float = 0.5
    over_served_above: float = 1.5
    source: Path = DEFAULT_FILE

    def level(self, number: int) -> Level:
        for level in self.levels:
            if level.number == number:
                return level
        raise LevelsError(f"there is no Level {number}: levels are 1, 2, 3 and 4")

    def label(self, number: object, missing: str = UNASSIGNED) -> str:
        """'Level 4 · Platinum', or ``missing`` ('Unassigned') for a missing level."""
        if number is None or (isinstance(number, float) and math.isnan(number)) or number is pd.NA:
            return missing
        return self.level(int(number)).label  # type: ignore[arg-type]

    def labels(self) -> list[str]:
        """Every level's label, Level 4 first, then 'Unassigned'."""
        return [level.label for level in self.levels] + [UNASSIGNED]

    def parse(self, text: object) -> int | None:
        """A level from what a person types: 4, L4, Level 4, Platinum, the label; none/unassigned → None."""
        value = str(text).strip()
        lowered = value.lower()
        if lowered in ("none", "unassigned", "-", "—", "null", ""):
            return None
        for level in self.levels:
            if lowered in (str(level.number), f"l{level.number}", f"level {level.number}",
                           level.name.lower(), level.label.lower()):
                return level.number
        names = ", ".join(level.name for level in self.levels)
        raise LevelsError(f"bad level {value!r}: expected 1, 2, 3, 4 ({names}) or none")

    def levels_frame(self) -> pd.DataFrame:
        """One row per level, for queries (registered as ``programme_levels``)."""
        return pd.DataFrame(
            {
                "level": pd.array([lv.number for lv in self.levels], dtype="Int64"),
                "level_name": pd.array([lv.name for lv in self.levels], dtype="str"),
                "budget_hours": [float(lv.budget_hours) for lv in self.levels],
                "budget_money": [float(lv.budget_money) for lv in self.levels],
                "under_served_below": [float(self.under_served_below)] * len(self.levels),
                "over_served_above": [float(self.over_served_above)] * len(self.levels),
            }
        )

    def menu_frame(self) -> pd.DataFrame:
        """activity_type → the lowest level whose menu has it (registered as ``programme_menu``)."""
        rows = [(t, lv.number) for lv in self.levels for t in lv.activity_types]
        return pd.DataFrame(
            {
                "activity_type": pd.array([t for t, _ in rows], dtype="str"),
                "menu_level": pd.array([n for _, n in rows], dtype="Int64"),
            }
        )


def _number(value: object, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise LevelsError(f"{where}: {field} must be a number of at least 0, got {value!r}")
    return float(value)


def _strings(value: object, where: str, field: str, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LevelsError(f"{where}: {field} must be a list of non-empty texts, got {value!r}")
    if not value and not allow_empty:
        raise LevelsError(f"{where}: {field} must list at least one item")
    return tuple(v.strip() for v in value)


def parse(text: str, source: Path) -> Programme:
    """A Programme from the text of a levels file; every problem names the file and the level."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LevelsError(f"{source}: not valid TOML: {error}") from None
    entries = raw.get("level")
    if not isinstance(entries, list) or not entries:
        raise LevelsError(f"{source}: no [[level]] tables; four are needed, numbered 1 to 4")
    levels: dict[int, Level] = {}
    for position, entry in enumerate(entries, start=1):
        where = f"{source}: [[level]] number {position}"
        number = entry.get("number")
        if number not in NUMBERS or isinstance(number, bool):
            raise LevelsError(f"{where}: number must be 1, 2, 3 or 4, got {number!r}")
        where = f"{source}: Level {number}"
        if number in levels:
            raise LevelsError(f"{where} is defined twice")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise LevelsError(f"{where}: name must be a non-empty text, e.g. \"Platinum\"")
        levels[number] = Level(
            number=number,
            name=name.strip(),
            menu=_strings(entry.get("menu"), where, "menu"),
            activity_types=_strings(entry.get("activity_types", []), where, "activity_types", allow_empty=True),
            budget_hours=_number(entry.get("budget_hours"), where, "budget_hours"),
            budget_money=_number(entry.get("budget_money"), where, "budget_money"),
        )
    missing = [n for n in NUMBERS if n not in levels]
    if missing:
        raise LevelsError(f"{source}: Level {', '.join(map(str, sorted(missing)))} missing; "
                          "the programme has four levels, numbered 1 to 4")
    names = [lv.name.lower() for lv in levels.values()]
    if len(set(names)) != len(names):
        raise LevelsError(f"{source}: two levels share a name; each needs its own")
    seen: dict[str, int] = {}
    for number in NUMBERS:
        for activity_type in levels[number].activity_types:
            if activity_type in seen:
                raise LevelsError(
                    f"{source}: activity type {activity_type!r} is on the menus of Level {seen[activity_type]} "
                    f"and Level {number}; list it once, at the lowest level that may use it"
                )
            seen[activity_type] = number
    service = raw.get("service", {})
    under = _number(service.get("under_served_below", 0.5), f"{source}: [service]", "under_served_below")
    over = _number(service.get("over_served_above", 1.5), f"{source}: [service]", "over_served_above")
    if under > over:
        raise LevelsError(f"{source}: [service] under_served_below ({under}) is above over_served_above ({over})")
    return Programme(tuple(levels[n] for n in NUMBERS), under, over, source)


def levels_path() -> Path:
    """The firm's levels file (env REFPORT_LEVELS), else the default that ships."""
    env = os.environ.get(ENV)
    return Path(env).expanduser().resolve() if env else DEFAULT_FILE


_lock = threading.Lock()
_cache: dict[Path, tuple[int, Programme]] = {}


def load(path: str | Path | None = None) -> Programme:
    """The programme levels, re-read when the file changes."""
    source = Path(path).expanduser().resolve() if path else levels_path()
    try:
        mtime = source.stat().st_mtime_ns
    except FileNotFoundError:
        raise LevelsError(f"levels file {source} does not exist (set {ENV} to an existing file)") from None
    with _lock:
        cached = _cache.get(source)
        if cached and cached[0] == mtime:
            return cached[1]
    programme = parse(source.read_text(encoding="utf-8"), source)
    with _lock:
        _cache[source] = (mtime, programme)
    return programme
