"""What goes into the weekly digests: each team's, and the organisation's. Pure: frames and records
in, dataclasses out; rendering is bot/blocks/digest.py, gathering the inputs jobs/digest.py.

A digest covers the last complete ISO week (Monday to Sunday) before the day it runs, compared
with the week before. Money is summed in micro-dollars and shown in cents that add up, as
``costbot costs`` prints them: each week's total is rounded to the cent and its parts (the teams'
totals of the org's week, the services of a team's week) are split to add up to it exactly
(largest remainder, :func:`finops.money.split_to_cents`); a change is the difference of the two
weeks' printed figures, and month to date is the forecast's own figure, so the digest, ``costbot
costs``, ``costbot forecast`` and App Home read the same cents. A week whose last days are not
complete in the cost data yet (a Monday digest usually finds Sunday still loading) is compared
day for day: its complete days against the same weekdays of the week before (``through``), so a
day still loading never reads as a drop; a week the cost data does not reach at all
(``has_data`` false: the data ends before its Monday, or there is none) has no spend to report,
not $0 of spend.

Team digest: last week vs the week before; the month of the week's last day to date against
its budget and month-end forecast; the top movers (services whose week changed most, shared-pool
parts marked); open anomalies; findings by state with their estimated $; savings realized this
quarter (verified findings, the savings ledger); unit cost trend; the daily series for the chart.

Org digest: the same totals for everyone, teams ranked by the size of their change, unallocated
spend and the top untagged cost drivers of the week, and the maturity scorecard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from finops.forecast import BudgetStatus, MonthForecast, budget_status
from finops.maturity import FindingSummary, Scorecard
from finops.model import ALLOCATION_RULE, DAY, TEAM, UNALLOCATED
from finops.money import MICROS, cents, from_micros, split_named_to_cents
from finops.ownership import SHARED_RULE_PREFIX
from finops.savings import FindingState, savings_ledger
from finops.units import UnitTrend

TOP_MOVERS = 5
CHART_WEEKS = 5
# Findings states shown in the pipeline, in the order of the ticket's life.
PIPELINE_STATES: tuple[str, ...] = tuple(str(s) for s in (
    FindingState.IDENTIFIED, FindingState.ACCEPTED, FindingState.IN_PROGRESS, FindingState.IMPLEMENTED,
    FindingState.VERIFYING, FindingState.VERIFIED, FindingState.NOT_REALIZED, FindingState.REJECTED))
OPEN_STATES = frozenset(PIPELINE_STATES[:5])


@dataclass(frozen=True)
class Week:
    """An ISO week: ``label`` like ``2026-W46``, Monday ``start`` to Sunday ``end``."""

    label: str
    start: date
    end: date

    @classmethod
    def of(cls, day: date) -> Week:
        year, week, weekday = day.isocalendar()
        start = day - timedelta(days=weekday - 1)
        return cls(f"{year}-W{week:02d}", start, start + timedelta(days=6))

    @classmethod
    def from_label(cls, label: str) -> Week:
        """``2026-W46`` -> that week; ValueError for anything else."""
        year, _, week = label.partition("-W")
        return cls.of(date.fromisocalendar(int(year), int(week), 1))

    def previous(self) -> Week:
        return Week.of(self.start - timedelta(days=1))

    @property
    def title(self) -> str:
        """``Week 46 · 9–15 Nov 2026``; ``Week 53 · 28 Dec 2026–3 Jan 2027`` across a new year (not
        ``28 Dec–3 Jan 2027``, which reads as December 2027)."""
        same_month = self.start.month == self.end.month
        first = (f"{self.start.day}" if same_month
                 else f"{self.start.day} {self.start:%b}" if self.start.year == self.end.year
                 else f"{self.start.day} {self.start:%b %Y}")
        return f"Week {int(self.label[-2:])} · {first}–{self.end.day} {self.end:%b %Y}"


def compared_through(week: Week, complete_through: date | None) -> date:
    """The last day of ``week`` a digest compares: its Sunday once the cost data is complete through
    it, else the last complete day (the week before is then cut to the same weekdays)."""
    if complete_through is None or complete_through >= week.end or complete_through < week.start:
        return week.end
    return complete_through


def compared_days(week: Week, through: date) -> str:
    """The weekdays compared when a week is cut short: ``Mon–Sat``, ``Mon`` ("" for the whole week)."""
    if through >= week.end:
        return ""
    return f"{week.start:%a}" if through == week.start else f"{week.start:%a}–{through:%a}"


def week_reported(run_day: date) -> Week:
    """The last complete ISO week before ``run_day`` (the week a digest sent that day covers)."""
    return Week.of(run_day - timedelta(days=run_day.isoweekday()))


@dataclass(frozen=True)
class AnomalyLine:
    """An open anomaly as the digest lists it."""

    id: int | str
    team: str
    label: str  # scope in words: "Amazon EC2 in 111100000001"
    start: date
    impact: float
    kind: str = "spike"


@dataclass(frozen=True)
class Change:
    """A total in two weeks and the change."""

    label: str
    last: Decimal
    before: Decimal

    @property
    def delta(self) -> Decimal:
        return self.last - self.before

    @property
    def pct(self) -> float | None:
        """The change in percent of the week before's size: a credit growing from -$500 to -$800 is
        -60 %, the sign of its change in $, not +60 %."""
        return float(self.delta / abs(self.before) * 100) if self.before else None


@dataclass(frozen=True)
class StateTotal:
    state: str
    count: int
    monthly: Decimal  # estimated monthly saving of the findings in that state


@dataclass(frozen=True)
class TeamDigest:
    team: str
    channel: str
    week: Week
    complete_through: date | None  # None: no cost data at all
    spend: Change
    month: str
    month_to_date: Decimal
    budget: BudgetStatus | None  # None when the team has no budget
    forecast: float | None  # month-end forecast (None without a forecast)
    movers: tuple[Change, ...]
    anomalies: tuple[AnomalyLine, ...]  # open, the largest impact first
    findings: tuple[StateTotal, ...]
    open_findings: tuple[FindingSummary, ...]  # biggest first
    stalled: tuple[str, ...]
    quarter: str
    realized_quarter: Decimal
    verified_quarter: int
    units: tuple[UnitTrend, ...]
    daily: tuple[tuple[date, float], ...]  # the chart: daily cost of the last CHART_WEEKS weeks
    data_from: date | None = None  # the first day of cost data (None: unknown, or long before)

    @property
    def no_week_before(self) -> bool:
        """The cost data starts after the week before began: no change to report (see :func:`starts_late`)."""
        return starts_late(self.data_from, self.week)

    @property
    def has_data(self) -> bool:
        """The complete cost data reaches into the week (else its spend is unknown, not zero)."""
        return covers(self.complete_through, self.week)

    @property
    def partial(self) -> bool:
        """The week's last days are not complete in the cost data yet."""
        return self.complete_through is not None and self.complete_through < self.week.end

    @property
    def through(self) -> date:
        """The last day of the week compared with the same weekday of the week before."""
        return compared_through(self.week, self.complete_through)


def starts_late(data_from: date | None, week: Week) -> bool:
    """Whether the cost data starts after the Monday of the week before ``week``: that week (and
    maybe ``week`` itself) is only partly in it, so a change against it is the data's start, not
    a change in spend (a first digest after onboarding would read +75 % for a flat team)."""
    return data_from is not None and data_from > week.start - timedelta(days=7)


def covers(complete_through: date | None, week: Week) -> bool:
    """Whether cost data complete through ``complete_through`` reaches into ``week``."""
    return complete_through is not None and complete_through >= week.start


@dataclass(frozen=True)
class TeamRank:
    """One team's line in the org digest."""

    change: Change
    forecast: float | None
    budget: BudgetStatus | None


@dataclass(frozen=True)
class OrgDigest:
    channel: str
    week: Week
    complete_through: date | None  # None: no cost data at all
    spend: Change
    month: str
    month_to_date: Decimal
    forecast: float | None
    forecast_low: float | None
    forecast_high: float | None
    forecast_coverage: float | None  # the probability the interval is meant to hold the outcome
    teams: tuple[TeamRank, ...]  # by the size of the change, largest first
    unallocated: Change
    untagged: pd.DataFrame  # finops.ownership.DRIVER_COLUMNS, the week's top untagged drivers
    open_anomalies: int
    open_findings: tuple[int, Decimal]  # count, estimated monthly $
    realized_quarter: Decimal
    quarter: str
    scorecard: Scorecard | None
    weekly: tuple[tuple[str, float, float], ...] = field(default=())  # (team, week before, last week) for the chart
    data_from: date | None = None  # the first day of cost data (None: unknown, or long before)

    @property
    def no_week_before(self) -> bool:
        """The cost data starts after the week before began: no change to report (see :func:`starts_late`)."""
        return starts_late(self.data_from, self.week)

    @property
    def has_data(self) -> bool:
        """The complete cost data reaches into the week (else its spend is unknown, not zero)."""
        return covers(self.complete_through, self.week)

    @property
    def through(self) -> date:
        """The last day of the week compared with the same weekday of the week before."""
        return compared_through(self.week, self.complete_through)


# ---------------------------------------------------------------------------------------------
# Building blocks


def _micros(values: pd.Series) -> np.ndarray:
    return np.rint(values.to_numpy(dtype=np.float64) * MICROS).astype(np.int64)


def _sum(frame: pd.DataFrame, mask: np.ndarray, metric: str) -> Decimal:
    return from_micros(int(_micros(frame.loc[mask, metric]).sum())) if len(frame) else Decimal(0)


def _in(frame: pd.DataFrame, start: date, end: date) -> np.ndarray:
    days = pd.to_datetime(frame[DAY])
    return ((days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))).to_numpy()


def split_cents(micros: pd.Series, total: Decimal | None = None) -> dict[str, Decimal]:
    """Each label's micro-dollars (``micros``, indexed by label) in cents, adding up exactly to
    ``total`` (default: their sum rounded to the cent).

    :func:`finops.money.split_named_to_cents` orders them as ``costbot costs`` orders its rows, so
    the same period reads the same cents in both.
    """
    amounts = {str(label): from_micros(int(m)) for label, m in micros.items()}
    return split_named_to_cents(amounts, cents(sum(amounts.values(), Decimal(0))) if total is None else total)


def _span_micros(frame: pd.DataFrame, labels: np.ndarray, start: date, end: date, metric: str) -> pd.Series:
    """Micro-dollars of the days ``start``..``end`` per label (``labels``: one per row of ``frame``)."""
    if frame.empty:
        return pd.Series(dtype=np.int64)
    mask = _in(frame, start, end)
    return pd.Series(_micros(frame.loc[mask, metric]), dtype=np.int64).groupby(labels[mask]).sum()


def _spans(week: Week, through: date | None) -> tuple[tuple[date, date], tuple[date, date]]:
    """(first, last) day of the two periods compared: ``week`` through ``through`` (default: its
    Sunday) and the same weekdays of the week before."""
    end = week.end if through is None else min(through, week.end)
    return (week.start, end), (week.start - timedelta(days=7), end - timedelta(days=7))


def week_change(frame: pd.DataFrame, week: Week, label: str = "", *, metric: str = "EffectiveCost",
                through: date | None = None) -> Change:
    """Total of ``frame`` in ``week`` and in the week before, each rounded to the cent; with
    ``through``, of their days up to that weekday only."""
    last, before = _spans(week, through)
    return Change(label, cents(_sum(frame, _in(frame, *last), metric)),
                  cents(_sum(frame, _in(frame, *before), metric)))


def team_changes(costs: pd.DataFrame, week: Week, *, metric: str = "EffectiveCost",
                 through: date | None = None) -> tuple[Change, dict[str, Change]]:
    """The organisation's total of ``week`` and of the week before, and each owner's (``x_Team``,
    ``unallocated`` too), in cents: the owners' figures of a week add up to the org's, as
    ``costbot costs --by team`` prints them. ``through`` cuts both weeks at that weekday
    (:func:`compared_through`)."""
    org = week_change(costs, week, "organisation", metric=metric, through=through)
    owners = costs[TEAM].astype(str).to_numpy(dtype=object)
    last_span, before_span = _spans(week, through)
    last = split_cents(_span_micros(costs, owners, *last_span, metric), org.last)
    before = split_cents(_span_micros(costs, owners, *before_span, metric), org.before)
    return org, {team: Change(team, last.get(team, Decimal(0)), before.get(team, Decimal(0)))
                 for team in sorted({*last, *before})}


def top_movers(frame: pd.DataFrame, week: Week, *, by: str = "ServiceName", n: int = TOP_MOVERS,
               metric: str = "EffectiveCost", total: Change | None = None,
               through: date | None = None) -> tuple[Change, ...]:
    """The ``n`` values of ``by`` whose weekly total changed most (by absolute $), ties by name.

    Shared-pool parts are their own movers, labelled ``(shared)``: a team reads its share of
    support fees apart from its own services. Each week's figures are in cents that add up to
    ``total`` (the team's two weeks as its digest prints them; default: each week's sum rounded),
    and a mover's change is the difference of its two printed figures. ``through`` cuts both weeks
    at that weekday, as :func:`team_changes` does.
    """
    last_span, before_span = _spans(week, through)
    rows = frame[_in(frame, before_span[0], last_span[1])] if len(frame) else frame
    if rows.empty:
        return ()
    shared = rows[ALLOCATION_RULE].astype(str).str.startswith(SHARED_RULE_PREFIX).to_numpy() \
        if ALLOCATION_RULE in rows else np.zeros(len(rows), dtype=bool)
    labels = rows[by].astype(str).to_numpy(dtype=object)
    labels = np.where(shared, labels + " (shared)", labels)
    last = split_cents(_span_micros(rows, labels, *last_span, metric), None if total is None else total.last)
    first = split_cents(_span_micros(rows, labels, *before_span, metric), None if total is None else total.before)
    changes = [Change(label, last.get(label, Decimal(0)), first.get(label, Decimal(0)))
               for label in sorted({*last, *first})]
    moved = sorted((c for c in changes if c.delta), key=lambda c: (-abs(c.delta), c.label))
    return tuple(moved[:n])


def findings_by_state(findings: Sequence[FindingSummary]) -> tuple[StateTotal, ...]:
    """Count and estimated monthly $ per state, in the ticket's order; states with none left out."""
    totals = []
    for state in PIPELINE_STATES:
        mine = [f for f in findings if f.state == state]
        if mine:
            totals.append(StateTotal(state, len(mine), sum((Decimal(repr(f.estimate_monthly)) for f in mine),
                                                           Decimal(0))))
    return tuple(totals)


def quarter_of(day: date) -> str:
    """The savings ledger's key of the quarter of ``day``: ``2026Q4``."""
    return str(pd.Timestamp(day).to_period("Q"))


def quarter_label(day: date) -> str:
    """The quarter of ``day`` as every answer writes it: ``Q4 2026``."""
    period = pd.Timestamp(day).to_period("Q")
    return f"Q{period.quarter} {period.year}"


def realized_in_quarter(findings: Sequence[FindingSummary], quarter: str, team: str | None = None) -> tuple[Decimal, int]:
    """Realized monthly savings (and how many findings) verified in ``quarter``, from the savings ledger."""
    records = [f.ledger_record() for f in findings if team is None or f.team == team]
    if not records:
        return Decimal(0), 0
    ledger = savings_ledger(records, by=("quarter",))
    row = ledger[ledger["quarter"] == quarter]
    if row.empty:
        return Decimal(0), 0
    return Decimal(repr(float(row["realized_monthly"].iloc[0]))), int(row["verified_count"].iloc[0])


def _daily_series(frame: pd.DataFrame, week: Week, metric: str) -> tuple[tuple[date, float], ...]:
    first = week.end - timedelta(days=7 * CHART_WEEKS - 1)
    days = pd.date_range(first, week.end, freq="D")
    rows = frame[_in(frame, first, week.end)]
    sums = rows.groupby(pd.to_datetime(rows[DAY]))[metric].sum().reindex(days, fill_value=0.0)
    return tuple((d.date(), float(v)) for d, v in sums.items())


# ---------------------------------------------------------------------------------------------
# The digests


def _month_to_date(frame: pd.DataFrame, week: Week, complete_through: date | None, metric: str) -> Decimal:
    """Spend of the month of the week's last day, through that day or the last complete day, in
    cents. Only without a forecast: with one, month to date is the forecast's figure (whose teams'
    parts add up to the org's), the one every other surface shows."""
    if complete_through is None:
        return Decimal(0)
    return cents(_sum(frame, _in(frame, week.end.replace(day=1), min(week.end, complete_through)), metric))


def team_digest(team: str, channel: str, week: Week, *, costs: pd.DataFrame, complete_through: date | None,
                forecast: MonthForecast | None, budget: float | None,
                anomalies: Sequence[AnomalyLine], findings: Sequence[FindingSummary],
                stalled: Sequence[str] = (), units: Sequence[UnitTrend] = (),
                metric: str = "EffectiveCost", team_weeks: Mapping[str, Change] | None = None,
                data_from: date | None = None) -> TeamDigest:
    """One team's digest of ``week``.

    ``costs``: daily costs with ChargePeriodStart, x_Team, x_AllocationRule, ServiceName and
    ``metric`` (shared pools split), covering at least the chart's weeks and the month of the
    week's end; every team's rows, so the team's week reads the cents its line of the org's week
    does (``costbot costs --by team``). ``complete_through``: the last complete day of cost data
    (None: there is none). ``forecast``: the month-end forecast as of the week's last day, from
    the same data: month to date is its figure. ``findings``: every finding (other teams' are
    ignored). ``team_weeks``: :func:`team_changes` of ``costs`` through
    :func:`compared_through` (computed here when not given; a run building every team's digest
    computes it once). ``data_from``: the first day of cost data; when it starts after the week
    before began, there are no movers (:func:`starts_late`).
    """
    mine = costs[(costs[TEAM] == team).to_numpy()]
    through = compared_through(week, complete_through)
    if team_weeks is None:
        team_weeks = team_changes(costs, week, metric=metric, through=through)[1]
    spend = team_weeks.get(team, Change(team, Decimal(0), Decimal(0)))
    status = None
    if budget is not None and forecast is not None:
        status = budget_status(forecast, {team: budget})[0]
    found = forecast.team(team) if forecast is not None else None
    my_findings = [f for f in findings if f.team == team]
    open_ = sorted((f for f in my_findings if f.state in OPEN_STATES), key=lambda f: (-f.estimate_monthly, f.id))
    realized, verified = realized_in_quarter(my_findings, quarter_of(week.end))
    if forecast is None:
        month_to_date = _month_to_date(mine, week, complete_through, metric)
    else:
        month_to_date = cents(found.actual_to_date) if found else Decimal(0)
    return TeamDigest(
        team=team, channel=channel, week=week, complete_through=complete_through,
        spend=spend, month=f"{week.end:%Y-%m}", month_to_date=month_to_date,
        budget=status, forecast=None if forecast is None else (found.forecast if found else 0.0),
        movers=() if starts_late(data_from, week) else top_movers(mine, week, metric=metric, total=spend,
                                                                  through=through),
        anomalies=tuple(sorted((a for a in anomalies if a.team == team), key=lambda a: (-abs(a.impact), str(a.id)))),
        findings=findings_by_state(my_findings), open_findings=tuple(open_), stalled=tuple(stalled),
        quarter=quarter_label(week.end), realized_quarter=realized, verified_quarter=verified,
        units=tuple(u for u in units if u.team == team), daily=_daily_series(mine, week, metric),
        data_from=data_from,
    )


def org_digest(channel: str, week: Week, *, costs: pd.DataFrame, complete_through: date | None, teams: Sequence[str],
               forecast: MonthForecast | None, budgets: Mapping[str, float], untagged: pd.DataFrame,
               anomalies: Sequence[AnomalyLine], findings: Sequence[FindingSummary],
               scorecard: Scorecard | None, metric: str = "EffectiveCost", data_from: date | None = None) -> OrgDigest:
    """The organisation's digest of ``week``: ``costs`` as for :func:`team_digest` (every team's),
    ``teams`` the names of teams.yml (teams with no spend are ranked too, at zero). When the cost
    data starts after the week before began (``data_from``, :func:`starts_late`), teams are ranked
    by their spend of the week, there being no change to rank them by."""
    statuses = {s.team: s for s in budget_status(forecast, budgets)} if forecast is not None else {}
    owners = list(dict.fromkeys([*teams, *sorted(set(costs[TEAM]) - {UNALLOCATED} - set(teams))]))
    spend, changes = team_changes(costs, week, metric=metric, through=compared_through(week, complete_through))
    nothing = Decimal(0)
    ranks = []
    for team in owners:
        found = forecast.team(team) if forecast is not None else None
        ranks.append(TeamRank(changes.get(team, Change(team, nothing, nothing)),
                              None if forecast is None else (found.forecast if found else 0.0), statuses.get(team)))
    # By the printed change: a ranking the reader can check against the lines.
    if starts_late(data_from, week):
        ranks.sort(key=lambda r: (-r.change.last, r.change.label))
    else:
        ranks.sort(key=lambda r: (-abs(r.change.delta), r.change.label))
    open_ = [f for f in findings if f.state in OPEN_STATES]
    realized, _ = realized_in_quarter(findings, quarter_of(week.end))
    return OrgDigest(
        channel=channel, week=week, complete_through=complete_through,
        spend=spend, month=f"{week.end:%Y-%m}",
        month_to_date=(_month_to_date(costs, week, complete_through, metric) if forecast is None
                       else cents(forecast.org.actual_to_date)),
        forecast=None if forecast is None else forecast.org.forecast,
        forecast_low=None if forecast is None else forecast.org.low,
        forecast_high=None if forecast is None else forecast.org.high,
        forecast_coverage=None if forecast is None else forecast.coverage,
        teams=tuple(ranks), unallocated=changes.get(UNALLOCATED, Change(UNALLOCATED, nothing, nothing)),
        untagged=untagged, open_anomalies=len(anomalies),
        open_findings=(len(open_), sum((Decimal(repr(f.estimate_monthly)) for f in open_), Decimal(0))),
        realized_quarter=realized, quarter=quarter_label(week.end), scorecard=scorecard,
        weekly=tuple((r.change.label, float(r.change.before), float(r.change.last)) for r in ranks),
        data_from=data_from,
    )
