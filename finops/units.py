"""Unit costs: a team's cost divided by the business volume it serves (orders, active users).

Teams declare their unit metrics in teams.yml (``unit_metrics``). Values arrive as
:class:`UnitValue` records, each counting the units of one period: a day (``2026-11-03``), an ISO
week (``2026-W45``) or a month (``2026-11``). They come from a CSV (:func:`read_unit_csv`), the
HTTP endpoint or ``/cost unit record`` (both through :func:`unit_value`).

:func:`unit_costs` divides each team's cost per calendar month or ISO week by the units of the
same days. A value whose period straddles the bucket is prorated by days (a month's 31,000 orders
count 7,000 in a 7-day week of it): the same rule for flows (orders) and for stocks (active users),
so a week's cost per active user is the month's rate seen over a week. Where values of different
periods cover the same day (a month's total and a week's), the finest period's value is used for
that day, so nothing is counted twice. A bucket is reported only
when values cover every one of its days and it lies within the complete cost data, because a full
month's cost over half a month's orders would double the unit cost. The cost is the team's total
including its shares of shared-cost pools (the caller passes costs after
``finops.ownership.split_shared_costs``), as the allocation rules define what a team pays.
Charges other than usage (fees on the 1st, tax on the last day, credits) are spread evenly over
the days of their month: a month's cost is unchanged, and a week's is not inflated because it
holds the 1st (the week's share of a month-end tax is there once the tax is booked).
"""

from __future__ import annotations

import calendar
import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from finops.errors import InputError
from finops.model import DAY, TEAM
from finops.money import cents, from_micros, split_named_to_cents, to_micros
from finops.teams import TeamsConfig

PERIODS: tuple[str, ...] = ("week", "month")
CSV_COLUMNS: tuple[str, ...] = ("team", "metric", "period", "value")
UNIT_COST_COLUMNS: tuple[str, ...] = ("team", "metric", "period", "start", "end", "cost", "units",
                                      "cost_per_unit", "change_pct")
# A trend needs this many consecutive periods with a unit cost (the latest and two before it).
TREND_PERIODS = 3

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# ASCII digits only: str.isdigit() and float() also take "١٢" (Arabic-Indic) and "1_000".
_PLAIN_NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class UnitValueError(ValueError):
    """A part of a unit value refused by :func:`unit_value`; ``column`` says which: team, metric,
    period or value (the CSV column, the Slack word)."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class UnitValue:
    """``value`` units of ``metric`` for ``team`` from ``start`` to ``end`` (both included)."""

    team: str
    metric: str
    start: date
    end: date
    value: float

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class UnitTrend:
    """The latest unit cost of one team's metric and how it moved."""

    team: str
    metric: str
    period: str  # label of the latest period: "2026-10" or "2026-W45"
    cost_per_unit: float
    previous: float | None  # the period before, when it has a unit cost
    change_pct: float | None
    periods: int  # consecutive periods with a unit cost, ending with the latest
    history: tuple[tuple[str, float], ...]  # (period, cost per unit), oldest first

    @property
    def has_trend(self) -> bool:
        return self.periods >= TREND_PERIODS


def singular(metric: str) -> str:
    """``orders`` -> ``order``, ``active_users`` -> ``active user`` (for "$0.41 per order")."""
    name = metric.replace("_", " ")
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def format_unit_cost(amount: float) -> str:
    """Dollars per unit: cents from $1 up, four decimals below ($0.0331), where cents would hide the trend."""
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def parse_unit_period(text: str) -> tuple[date, date]:
    """``2026-11-03`` (a day), ``2026-W45`` (an ISO week) or ``2026-11`` (a month) -> (first, last day).

    Raises ValueError with the accepted forms.
    """
    text = text.strip()
    forms = "a day (2026-11-03), an ISO week (2026-W45) or a month (2026-11)"
    try:
        if _DAY_RE.match(text):
            day = date.fromisoformat(text)
            return day, day
        if match := _WEEK_RE.match(text):
            first = date.fromisocalendar(int(match[1]), int(match[2]), 1)
            return first, first + timedelta(days=6)
        if match := _MONTH_RE.match(text):
            first = date(int(match[1]), int(match[2]), 1)
            # monthrange, not "the 1st of the next month less a day": December 9999 has no next month.
            return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])
    except (ValueError, OverflowError):  # OverflowError: a week ending after 9999-12-31
        raise ValueError(f"{text!r} is not a date in the calendar: use {forms}") from None
    raise ValueError(f"{text!r} is not a period: use {forms}")


def parse_unit_number(text: str) -> float:
    """A plain decimal number: ASCII digits, an optional sign, at most one '.' and an optional
    exponent (``31000``, ``1.5``, ``2e6``). Raises ValueError quoting the text otherwise.

    ``1,5`` is 1.5 in much of Europe and 15 with a thousands separator; a guess would store one
    of them silently, so a comma, a space, an underscore or a non-ASCII digit is refused.
    """
    stripped = text.strip()
    if _PLAIN_NUMBER_RE.fullmatch(stripped):
        return float(stripped)
    if not any(ch.isdigit() for ch in stripped):
        raise ValueError(f"{stripped!r} is not a number")
    if any(ch.isdigit() and ch not in "0123456789" for ch in stripped):
        raise ValueError(f"{stripped!r} is not a plain number (use the digits 0-9)")
    raise ValueError(f"{stripped!r} is not a plain number "
                     "(use a dot for decimals and no thousands separators)")


def unit_value(teams: TeamsConfig, team: str, metric: str, period: str, value: str | float) -> UnitValue:
    """One validated value: the team exists and declares the metric, the period parses, the value
    is a plain number (:func:`parse_unit_number`) or a float, finite and >= 0. Raises
    :class:`UnitValueError` saying which part is wrong and what is allowed."""
    found = {t.name.casefold(): t for t in teams.teams}.get(team.strip().casefold())
    if found is None:
        # The file's name, not its path: this message also answers HTTP clients of the units endpoint.
        raise UnitValueError(teams.no_team_text(team.strip(), Path(teams.file).name), "team")
    declared = [m.name for m in found.unit_metrics]
    # Read in any case, as team names are ("Orders" is orders), unless that is ambiguous.
    same = [name for name in declared if name.casefold() == metric.strip().casefold()]
    if metric.strip() not in declared and len(same) == 1:
        metric = same[0]
    if metric.strip() not in declared:
        allowed = ", ".join(declared) if declared else "none: add unit_metrics to the team in teams.yml"
        raise UnitValueError(f"team {found.name} has no unit metric {metric.strip()!r} (declared: {allowed})",
                             "metric")
    try:
        start, end = parse_unit_period(period)
    except ValueError as error:
        raise UnitValueError(str(error), "period") from None
    try:
        if isinstance(value, str):
            number = parse_unit_number(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            raise ValueError(f"value {value!r} is not a number")
    except OverflowError:  # an int beyond float's range
        number = math.inf
    except ValueError as error:
        raise UnitValueError(str(error), "value") from None
    shown = repr(value.strip()) if isinstance(value, str) else repr(value)
    if len(shown) > 40:  # a 400-digit number quoted whole buries the message
        shown = f"{shown[:20]}…{shown[-8:]} ({len(shown)} characters)"
    if not math.isfinite(number):
        raise UnitValueError(f"value {shown} is too large", "value")
    if number < 0:
        raise UnitValueError(f"value {shown} must be a number of units, 0 or more", "value")
    # -0 is 0 (a float keeps the sign: it would be stored and echoed back as "-0 orders").
    return UnitValue(found.name, metric.strip(), start, end, number + 0.0)


def read_unit_csv(text: str, teams: TeamsConfig, *, file: str = "units.csv") -> list[UnitValue]:
    """Parse a CSV of unit values with columns ``team,metric,period,value`` (any order, a header;
    other columns are ignored).

    Every problem is an :class:`InputError` naming the file, the line (the header is line 1),
    the column and the value; nothing is returned unless every line is good. A row with more or
    fewer fields than the header, a column named twice and a quote never closed are errors, as is
    the same team, metric and period twice in one file (which one was meant?).
    """
    text = text.lstrip("\ufeff")
    rows = _csv_rows(text, file)
    first = next(rows, None)
    if first is None or not text.strip():  # blank lines only: no header either
        raise InputError("the file is empty: it needs a header line team,metric,period,value", file=file,
                         line=1)
    _, header = first
    index = _column_index(header, text.split("\n", 1)[0].rstrip("\r"), file)
    values: list[UnitValue] = []
    first_line: dict[tuple[str, str, date, date], int] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{len(row)} field{'s' if len(row) != 1 else ''} where the header has {len(header)}",
                             file=file, line=line)
        cells = {c: row[i] for c, i in index.items()}
        try:
            value = unit_value(teams, cells["team"], cells["metric"], cells["period"], cells["value"])
        except UnitValueError as error:
            raise InputError(str(error), file=file, line=line, column=error.column) from None
        key = (value.team, value.metric, value.start, value.end)
        if key in first_line:
            raise InputError(f"{value.team} {value.metric} for {cells['period'].strip()} is already on line "
                             f"{first_line[key]}", file=file, line=line, column="period")
        first_line[key] = line
        values.append(value)
    if not values:
        # As POST /units refuses an empty list: a header alone is most likely an export that failed.
        raise InputError("no values after the header: the file needs a line team,metric,period,value per value",
                         file=file, line=2)
    return values


def _csv_rows(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of each CSV record, the line being its last; malformed CSV is an InputError
    on the line where the bad record starts.

    Strict: a quote left open would otherwise swallow the rest of the file into one field.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    while True:
        starts = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if str(error) == "unexpected end of data":  # what strict mode says of a quote never closed
                raise InputError(f'a quote (") in the record that starts on line {starts} is never closed',
                                 file=file, line=starts) from None
            raise InputError(f"not valid CSV: {error}", file=file, line=starts) from None
        yield reader.line_num, row


def _column_index(header: list[str], header_line: str, file: str) -> dict[str, int]:
    """Where each of :data:`CSV_COLUMNS` is in the header; an InputError on line 1 when one is
    missing (with the columns not understood) or named twice."""
    names = [h.strip().lower() for h in header]
    for name in CSV_COLUMNS:
        places = [i + 1 for i, n in enumerate(names) if n == name]
        if len(places) > 1:
            raise InputError(f"the header names column {name!r} twice (fields {places[0]} and {places[1]})",
                             file=file, line=1, column=name)
    missing = [c for c in CSV_COLUMNS if c not in names]
    if not missing:
        return {c: names.index(c) for c in CSV_COLUMNS}
    expected = ", ".join(CSV_COLUMNS)
    if "," not in header_line and (";" in header_line or "\t" in header_line):
        separator = "semicolons" if ";" in header_line else "tabs"
        raise InputError(f"the header {header_line!r} is separated by {separator}: the file must be "
                         f"comma-separated (columns {expected})", file=file, line=1)
    unknown = [repr(h.strip()) for h, n in zip(header, names, strict=True) if n and n not in CSV_COLUMNS]
    problems = [f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"] if unknown else []
    problems.append(f"missing column(s) {', '.join(missing)}")
    raise InputError(f"{'; '.join(problems)} (expected columns: {expected})", file=file, line=1)


# ---------------------------------------------------------------------------------------------
# Unit costs


def values_frame(values: Iterable[UnitValue]) -> pd.DataFrame:
    """Unit values as a frame with columns team, metric, start, end, value."""
    rows = [(v.team, v.metric, v.start, v.end, v.value) for v in values]
    return pd.DataFrame(rows, columns=["team", "metric", "start", "end", "value"])


def _period_labels(days: pd.DatetimeIndex, period: str) -> np.ndarray:
    if period == "month":
        return days.strftime("%Y-%m").to_numpy(dtype=object)
    iso = days.isocalendar()
    return np.array([f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"], strict=True)], dtype=object)


def unit_costs(team_costs: pd.DataFrame, values: pd.DataFrame, *, period: str = "month",
               through: date, since: date | None = None, metric: str = "EffectiveCost") -> pd.DataFrame:
    """Cost per unit per team, metric and period (calendar month or ISO week), oldest first.

    ``team_costs``: daily costs with ``ChargePeriodStart``, ``x_Team`` and ``metric`` (shared
    pools already split). ``values``: :func:`values_frame`. ``through``: the last complete day
    of cost data; later periods are left out. ``since``: the first day of ``team_costs`` when it
    was read from a window; a period that starts earlier is left out, as its cost would be only
    the days from ``since`` over a whole period's units. Columns: team, metric, period, start, end, cost,
    units, cost_per_unit (None when there are 0 units), change_pct (against the period before
    when it has a unit cost, else None). See the module docstring for prorating and coverage.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    if values.empty:
        return pd.DataFrame(columns=list(UNIT_COST_COLUMNS))
    # Spread each value over its days (value / days per day), then sum per team, metric, day.
    lengths = (pd.to_datetime(values["end"]) - pd.to_datetime(values["start"])).dt.days.to_numpy() + 1
    repeat = np.repeat(np.arange(len(values)), lengths)
    offsets = np.arange(len(repeat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    daily = pd.DataFrame({
        "team": values["team"].to_numpy(dtype=object)[repeat],
        "metric": values["metric"].to_numpy(dtype=object)[repeat],
        "day": pd.to_datetime(values["start"]).to_numpy()[repeat] + offsets.astype("timedelta64[D]"),
        "units": (values["value"].to_numpy(dtype=np.float64) / lengths)[repeat],
        "length": lengths[repeat],
    })
    # A day covered by a month's value and a week's keeps the week's: the finest period wins.
    finest = daily.groupby(["team", "metric", "day"])["length"].transform("min")
    daily = daily[daily["length"] == finest].groupby(["team", "metric", "day"], as_index=False)["units"].sum()
    in_window = daily["day"] <= pd.Timestamp(through)
    if since is not None:  # a period begun before ``since`` then lacks days, so it is not reported
        in_window &= daily["day"] >= pd.Timestamp(since)
    daily = daily[in_window]
    daily["period"] = _period_labels(pd.DatetimeIndex(daily["day"]), period)

    costs = _calendar_charges_spread(team_costs, metric)
    days = pd.to_datetime(costs[DAY])
    in_data = (days <= pd.Timestamp(through)).to_numpy()
    cost_by_period = (costs.loc[in_data, metric]
                      .groupby([costs.loc[in_data, TEAM].to_numpy(),
                                _period_labels(pd.DatetimeIndex(days[in_data]), period)]).sum())

    period_cents = _split_to_cents(cost_by_period)

    rows = []
    for (team, name, label), group in daily.groupby(["team", "metric", "period"], sort=True):
        start, end = parse_unit_period(label)
        if end > through or group["day"].nunique() < (end - start).days + 1:
            continue  # values do not cover every day, or the period is not over in the cost data
        cost = float(period_cents.get((team, label), Decimal(0)))
        units = float(group["units"].sum())
        rows.append((team, name, label, start, end, cost, units, cost / units if units > 0 else None))
    table = pd.DataFrame(rows, columns=list(UNIT_COST_COLUMNS[:-1]))
    # Object columns keep None as None (a float column would turn it into NaN, which JSON lacks).
    table["cost_per_unit"] = pd.Series([r[-1] for r in rows], dtype=object)
    table["change_pct"] = pd.Series(_changes(table, period), dtype=object)
    return table.reset_index(drop=True)


def _split_to_cents(cost_by_period: pd.Series) -> dict[tuple[str, str], Decimal]:
    """Each team's cost of each period in cents, split from the period's total over every owner by
    largest remainder (:func:`finops.money.split_named_to_cents`): how ``costbot costs --by team``
    prints a month, so a team's month here is the same to the cent (rounded alone, one in a few
    read a cent apart)."""
    amounts: dict[str, dict[str, Decimal]] = {}
    for (team, label), cost in cost_by_period.items():
        amounts.setdefault(label, {})[team] = from_micros(to_micros(cost))
    return {(team, label): part for label, teams in amounts.items()
            for team, part in split_named_to_cents(teams, cents(sum(teams.values(), Decimal(0)))).items()}


def _calendar_charges_spread(team_costs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Daily costs with every charge but usage (a fee on the 1st, tax on the last day, a credit)
    spread evenly over the days of its calendar month, so a week's unit cost is not the week that
    happened to hold the month's fee (a month's total is unchanged). Without a ChargeCategory
    column, the frame as it is."""
    if team_costs.empty or "ChargeCategory" not in team_costs:
        return team_costs
    days = pd.to_datetime(team_costs[DAY])
    usage = (team_costs["ChargeCategory"].astype(str) == "Usage").to_numpy()
    calendar = pd.DataFrame({TEAM: team_costs.loc[~usage, TEAM].to_numpy(dtype=object),
                             "month": days[~usage].dt.to_period("M").to_numpy(),
                             metric: team_costs.loc[~usage, metric].to_numpy(dtype=np.float64)})
    monthly = calendar.groupby([TEAM, "month"], as_index=False)[metric].sum()
    spread = [pd.DataFrame({DAY: pd.date_range(m.start_time, m.end_time.normalize(), freq="D"), TEAM: team,
                            metric: amount / m.days_in_month})
              for team, m, amount in monthly.itertuples(index=False, name=None)]
    usage_rows = pd.DataFrame({DAY: days[usage].to_numpy(), TEAM: team_costs.loc[usage, TEAM].to_numpy(dtype=object),
                               metric: team_costs.loc[usage, metric].to_numpy(dtype=np.float64)})
    return pd.concat([usage_rows, *spread], ignore_index=True)


def _previous_label(label: str, period: str) -> str:
    start, _ = parse_unit_period(label)
    before = start - timedelta(days=1)
    if period == "month":
        return before.strftime("%Y-%m")
    year, week, _ = before.isocalendar()
    return f"{year}-W{week:02d}"


def _changes(table: pd.DataFrame, period: str) -> list[float | None]:
    known = {(r.team, r.metric, r.period): r.cost_per_unit for r in table.itertuples()}
    changes: list[float | None] = []
    for r in table.itertuples():
        before = known.get((r.team, r.metric, _previous_label(r.period, period)))
        if r.cost_per_unit is None or before is None or before == 0:
            changes.append(None)
        else:
            changes.append((r.cost_per_unit - before) / before * 100)
    return changes


def unit_trends(table: pd.DataFrame, period: str = "month") -> list[UnitTrend]:
    """The latest unit cost of each team and metric in a :func:`unit_costs` table, with its
    run of consecutive periods (a gap or a period with 0 units ends the run)."""
    trends = []
    for (team, name), group in table.groupby(["team", "metric"], sort=True):
        group = group.sort_values("start")
        labels, costs = list(group["period"]), list(group["cost_per_unit"])
        if costs[-1] is None or pd.isna(costs[-1]):
            continue
        run = 1
        while run < len(labels) and costs[-1 - run] is not None and not pd.isna(costs[-1 - run]) \
                and _previous_label(labels[-run], period) == labels[-1 - run]:
            run += 1
        previous = costs[-2] if run >= 2 else None
        last = group.iloc[-1]
        history = tuple((labels[i], float(costs[i])) for i in range(len(labels) - run, len(labels)))
        trends.append(UnitTrend(team, name, labels[-1], float(costs[-1]), previous,
                                None if pd.isna(last["change_pct"]) else float(last["change_pct"]), run, history))
    return trends
