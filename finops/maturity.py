"""The FinOps maturity scorecard: the five questions of the article the product was conceived from
(``finops-maturity-article.txt``, "The practical maturity assessment"), answered from the bot's
own data, each rated Crawl / Walk / Run with the number behind it.

1. *Attribution*: the share of last month's spend allocated to a team (direct + shared pools).
   Below 70 % Crawl; 70-90 % Walk; above 90 % Run when shared costs are allocated too (a shared
   pool split some spend, or nothing is left unallocated). The SPEC's thresholds.
2. *Anomaly routing*: median time from the end of an anomaly's first cost day to its alert in
   Slack, over the alerts of the last 90 days. More than a week Crawl ("weeks"); within a week
   Walk ("hours", days at worst); within 72 hours *and* at least 90 % of alerts posted in the
   owning team's channel (not the default one) Run ("automated with owner routing"). 72 hours
   leave room for the provider's own delay (cost data lands 24-48 hours after the day) plus one
   daily detection run; no alert at all is Crawl (nothing shows detection works). The figure
   adds the median time from the alert to its first human response, and how many responses
   that median is of (alerts nobody answered yet have none). An alert in the default channel
   has one of two causes, each with its fix: spend no rule owns (a match rule), or a team whose
   channel is the default one, or that left teams.yml (a channel of its own).
3. *Implementation*: of the savings identified in the last four quarters (the quarter of the
   day and the three before, whole, as ``costbot savings --quarter`` rows book them; the figure
   names them, "2026Q1–2026Q4") with rejected ones left out (a reasoned no is not an unrealised
   saving; the figure says how many, since ``costbot savings`` counts them in "identified"),
   the share implemented, verifying or verified, by estimated $ (the rating) and by count: the
   savings ledger's implementation rate, so the scorecard and ``costbot savings`` agree. A finding verification found not realized is not an
   implemented saving: it stays identified (the opportunity was not captured), is shown apart
   ("1 not realized, $3,800.00/month estimated"), and the next step names it (re-open or
   re-scope it) when it is the bigger gap. Below 30 % Crawl; 30-70 % Walk; above 70 % with at
   least one verified, measured saving Run ("with verification").
4. *Variance*: the share of last quarter's change (against the quarter before) the variance
   answer explains (``VarianceAnswer.explained_share``: the part of the gross movement, rises
   and falls alike, with a named cause). The figure prints that gross movement (the base of the
   percentage) beside the net change; the lines without a cause (net of what anomalies and
   findings cover) add up to the unexplained part in cents, and the next step names the biggest
   and sums the rest ("and $2.70 elsewhere"). Below 50 % Crawl ("no"); 50-80 % Walk ("with some
   engineering input"); 80 % or more Run ("yes, with evidence"). Not enough history for two
   quarters is Crawl.
5. *Unit cost*: a cost per business unit for a recent month (ending within the last 62 days).
   None Crawl; known but with fewer than 3 consecutive months Walk ("approximately"); 3 months
   or more Run ("yes, with a trend").

A rated share prints with one decimal, or with as many more as keep it on its side of the
thresholds (69.996 % rated Crawl does not read "70.0 %"); ``--json``'s value likewise. So do
routing's owner share (89.6 % is not Run's "90 %") and median time (72.05 hours rated Walk reads
"3.002 days", not Run's "3.0 days").

Each line's next step follows its rating: the article's advice for the stage it is in (Crawl:
fix tagging first; Walk: close the gap to the next stage; Run: what is left), made specific with
our numbers: which cost drivers no team owns, which findings (by ``#id``, titles shortened to
80 characters so the step fits a Slack section whole), which teams. A Run line says "Keep
it" only when it has no dollars at stake; while some remain (spend no team owns, savings not
captured, movement without a cause, misrouted or slow alerts) its step leads with them ("Own the
rest: $13,616.46 of 2026-10 still has no owner; the biggest: Tax in ..."), since "Keep it" reads
as "nothing to do". A cost
driver named for attribution is spend no team owns *after* shared pools are split (a pooled NAT
gateway already has owners; an untagged legacy instance on an unmapped account has none).

The *highest-value next step* is the weakest dimension's (lowest rating; between equals the one
with the most dollars at stake, then the question order): so when every line is Run, a line with
dollars at stake comes before a "Keep it" line, and the step is never a plain "Keep it" while
another line has dollars at stake. Dollars at stake are per month on
every line, so they compare: attribution's unallocated spend of the month; anomaly routing's
impact (its size: a drop's as a rise's) of the misrouted or slow alerts of the 90-day window, over its months; implementation's
identified monthly savings not captured (open, or not realized); variance's unexplained movement of the quarter, over
its three months.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd

from finops.model import ALLOCATION_RULE, TEAM, UNALLOCATED
from finops.money import MICROS, cents, format_usd, split_to_cents
from finops.ownership import DRIVER_KEYS, SHARED_RULE_PREFIX, Coverage
from finops.savings import COUNTS_AS_IMPLEMENTED, FindingState, savings_ledger
from finops.units import UnitTrend, format_unit_cost, singular
from finops.variance import VarianceAnswer, line_of

RATINGS: tuple[str, ...] = ("Crawl", "Walk", "Run")

ATTRIBUTION_WALK, ATTRIBUTION_RUN = 0.70, 0.90
ROUTING_WALK_HOURS, ROUTING_RUN_HOURS, ROUTING_RUN_OWNER_SHARE = 7 * 24.0, 72.0, 0.90
ROUTING_WINDOW_DAYS = 90
IMPLEMENTATION_WALK, IMPLEMENTATION_RUN = 0.30, 0.70
IMPLEMENTATION_QUARTERS = 4  # the quarter of as_of and the three before, as `costbot savings` books them
VARIANCE_WALK, VARIANCE_RUN = 0.50, 0.80
UNIT_RECENT_DAYS = 62
ARTICLE_MANDATORY_TAGS = 4  # "Define four mandatory tags"
NAMED = 3  # drivers, findings, teams named in a next step
TITLE_SHOWN = 80  # characters of a finding's title in a next step
DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_QUARTER = 3
UNOWNED_COLUMNS = (*DRIVER_KEYS, "cost")

QUESTIONS: dict[int, tuple[str, str]] = {
    1: ("attribution", "What percentage of your cloud spend can you attribute to a specific team or product?"),
    2: ("anomaly routing", "How quickly do you detect and route cost anomalies?"),
    3: ("implementation", "What percentage of identified savings opportunities are actually implemented?"),
    4: ("variance", "Can you explain last quarter's cloud cost variance in five minutes without help from "
                    "engineering?"),
    5: ("unit cost", "Do you know the cost to serve one unit of your core product?"),
}


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class AlertTiming:
    """One anomaly alert's timeline: cost day -> detected -> posted -> first human response."""

    anomaly_id: int | str
    team: str
    cost_day: date  # the anomaly's first day of cost
    detected_at: datetime
    posted_at: datetime | None
    first_response_at: datetime | None
    routed_to_owner: bool  # posted in the owning team's channel, not the default channel
    impact: float = 0.0
    scope: str = ""  # e.g. "Amazon EC2 in 111100000001", for next steps

    @property
    def cost_available_at(self) -> datetime:
        """The end of the cost day (UTC): the earliest the cost could be known."""
        return datetime.combine(self.cost_day + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def hours_to_alert(self) -> float | None:
        if self.posted_at is None:
            return None
        return (self.posted_at - self.cost_available_at).total_seconds() / 3600

    @property
    def hours_to_response(self) -> float | None:
        if self.posted_at is None or self.first_response_at is None:
            return None
        return (self.first_response_at - self.posted_at).total_seconds() / 3600


@dataclass(frozen=True)
class FindingSummary:
    """What the scorecard reads of a savings finding (the fields of the savings ledger, and names)."""

    id: int
    title: str
    team: str
    state: str
    estimate_monthly: float
    identified_on: date
    implemented_on: date | None = None
    verified_on: date | None = None
    realized_monthly: float | None = None
    regressed: bool = False

    def ledger_record(self) -> dict[str, object]:
        return {"team": self.team, "state": self.state, "estimate_monthly": self.estimate_monthly,
                "identified_on": self.identified_on, "implemented_on": self.implemented_on,
                "verified_on": self.verified_on, "realized_monthly": self.realized_monthly,
                "regressed": self.regressed}


@dataclass(frozen=True)
class VarianceSummary:
    """What the scorecard reads of last quarter's variance answer.

    ``unexplained`` are the lines of the movement without a named cause, net of what anomalies
    and findings cover (as ``explained_share`` counts them), in exact cents: they add up to
    :attr:`unexplained_total`, the part of ``gross`` the share leaves unexplained.
    """

    period_a: str
    period_b: str
    delta: Decimal
    explained_share: float
    gross: Decimal  # sum over contributors of the absolute values of their parts
    unexplained: tuple[tuple[str, Decimal, str], ...]  # (contributor, $ without a cause, why), largest first

    @property
    def unexplained_total(self) -> Decimal:
        return sum((amount for _, amount, _ in self.unexplained), Decimal("0.00"))


def variance_summary(answer: VarianceAnswer) -> VarianceSummary:
    """The scorecard's view of a variance answer: its share explained and the lines without a cause.

    Each line's unknown movement (its ``unexplained_by_quantity`` part, or every part of the
    "other" line), rises and falls apart, less what the answer's anomalies and findings cover of
    it: the same sums ``explained_share`` is computed from, so the lines add up to the
    unexplained part of the gross movement to the cent.
    """
    gross = sum((abs(v) for c in answer.contributors for v in c.parts().values()), Decimal(0))
    unknown = [[sum((v for v in values if v > 0), Decimal(0)), sum((-v for v in values if v < 0), Decimal(0))]
               for values in (list(c.parts().values()) if c.kind == "other" else [c.unexplained_by_quantity]
                              for c in answer.contributors)]
    for item in answer.explained_by:
        target = line_of(item, answer.contributors)
        if item.amount and target is not None:
            side = 0 if item.amount > 0 else 1
            unknown[target][side] -= min(unknown[target][side], abs(item.amount))
    lines = []
    for c, (up, down) in zip(answer.contributors, unknown, strict=True):
        why = ("spread over lines too small to list" if c.kind == "other"
               else "no usage quantities to split usage from rate")
        if up + down:
            lines.append((c.label, up + down, why))
    lines.sort(key=lambda line: -line[1])
    q = answer.question
    return VarianceSummary(q.period_a.label, q.period_b.label, answer.delta, answer.explained_share, gross,
                           tuple(lines))


@dataclass(frozen=True)
class MaturityInputs:
    """Everything the scorecard is computed from (plain data; see bot/cli/maturity.py for the loader).

    ``unit_trends`` are
    monthly (``finops.units.unit_trends`` of a ``period="month"`` table). ``untagged_drivers``
    has the columns of ``finops.ownership.untagged_cost_drivers``; ``unowned_drivers`` those of
    :func:`unowned_cost_drivers`, both of ``attribution_period``. ``team_spend`` is each owner's
    spend in ``attribution_period``; ``unit_metrics`` the metrics each team declares.
    """

    as_of: date
    attribution_period: str
    coverage: Coverage
    mandatory_tags: tuple[str, ...]
    tag_coverage: Mapping[str, float | None]
    untagged_drivers: pd.DataFrame
    alert_timings: Sequence[AlertTiming]
    findings: Sequence[FindingSummary]
    variance: VarianceSummary | None
    unit_trends: Sequence[UnitTrend]
    team_spend: Mapping[str, float] = field(default_factory=dict)
    unit_metrics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unallocated_team: str = UNALLOCATED
    unowned_drivers: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNOWNED_COLUMNS)))
    teams_defined: int | None = None  # how many teams teams.yml names (None: not known)


def unowned_cost_drivers(allocated: pd.DataFrame, n: int = 20, *, metric: str = "EffectiveCost") -> pd.DataFrame:
    """The ``n`` series (provider, account, service, resource) with the most spend no team owns.

    ``allocated`` went through ``finops.ownership.allocate_costs`` (split or not): rows a shared
    pool took are owned by its teams, so only rows no rule matched count. Columns: ProviderName,
    SubAccountId, ServiceName, ResourceId, cost (dollars, summed in micro-units); biggest first,
    ties in key order.
    """
    unowned = allocated[(allocated[TEAM] == UNALLOCATED).to_numpy()
                        & ~allocated[ALLOCATION_RULE].astype(str).str.startswith(SHARED_RULE_PREFIX).to_numpy()]
    if unowned.empty:
        return pd.DataFrame(columns=list(UNOWNED_COLUMNS))
    micros = unowned.assign(micros=(unowned[metric].to_numpy() * MICROS).round().astype("int64"))
    top = (micros.groupby(list(DRIVER_KEYS), as_index=False)["micros"].sum()
           .sort_values(["micros", *DRIVER_KEYS], ascending=[False, *[True] * len(DRIVER_KEYS)], kind="stable")
           .head(n))
    return top.assign(cost=top["micros"] / MICROS)[list(UNOWNED_COLUMNS)].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ScoreLine:
    """One question: its rating, the number behind it in words and as a value, and what to do next."""

    number: int
    dimension: str
    question: str
    rating: str
    value: float | None  # the headline number: a share (0..1) or hours; None when not measurable
    figure: str
    next_step: str
    at_stake: float | None = None  # dollars a month the gap leaves unmanaged (see the module docstring)
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"question": self.number, "dimension": self.dimension, "text": self.question,
                "rating": self.rating, "value": self.value, "figure": self.figure,
                "at_stake": None if self.at_stake is None else round(self.at_stake, 2),
                "next_step": self.next_step, "detail": self.detail}


@dataclass(frozen=True)
class Scorecard:
    """The five lines and the one next step (for the weakest line)."""

    as_of: date
    lines: tuple[ScoreLine, ...]
    weakest: int  # the question number the next step is for

    @property
    def next_step(self) -> str:
        return self.line(self.weakest).next_step

    @property
    def overall(self) -> str:
        """The organisation's stage is its weakest dimension's."""
        return self.line(self.weakest).rating

    def line(self, number: int) -> ScoreLine:
        return next(line for line in self.lines if line.number == number)

    def to_json(self) -> dict[str, object]:
        """The ``costbot maturity --json`` document."""
        return {"as_of": self.as_of.isoformat(), "overall": self.overall, "weakest": self.weakest,
                "next_step": self.next_step, "lines": [line.to_json() for line in self.lines]}


# Shares are rated (and printed) at this many decimals: float noise (0.6999999999999998 for 70 %)
# must not rate Crawl what prints, and is, 70 %.
RATED_DECIMALS = 9


def _rate(value: float, walk: float, run: float, *, run_condition: bool = True, strict_run: bool = True) -> str:
    value = round(value, RATED_DECIMALS)
    if value < walk:
        return "Crawl"
    above = value > run if strict_run else value >= run
    return "Run" if above and run_condition else "Walk"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


# A rated share's thresholds: (threshold, strict): the rating asks value > threshold when strict,
# value >= threshold otherwise.
Thresholds = tuple[tuple[float, bool], ...]


def _same_side(shown: float, value: float, thresholds: Thresholds) -> bool:
    return all((shown > t if strict else shown >= t) == (value > t if strict else value >= t)
               for t, strict in thresholds)


def _rated_digits(value: float, digits: int, thresholds: Thresholds) -> int:
    """The fewest decimals from ``digits`` up that keep ``value`` rounded on its side of every
    threshold: 69.996 % rated Crawl must not read "70.0 %" beside "Crawl", nor 0.7000 in --json."""
    while digits < 10 and not _same_side(round(value, digits), value, thresholds):
        digits += 1
    return digits


def _rated_pct(share: float, thresholds: Thresholds) -> str:
    share = round(share, RATED_DECIMALS)
    digits = _rated_digits(share * 100, 1, tuple((t * 100, strict) for t, strict in thresholds))
    return f"{share * 100:.{digits}f} %"


def _rated_value(share: float, thresholds: Thresholds) -> float:
    share = round(share, RATED_DECIMALS)
    return round(share, _rated_digits(share, 4, thresholds))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _hours(hours: float) -> str:
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} days"


# The median time's thresholds, in hours: Run within 72 hours, Crawl beyond a week.
ROUTING_HOURS_RATED: Thresholds = ((ROUTING_RUN_HOURS, True), (ROUTING_WALK_HOURS, True))


def _rated_hours(hours: float) -> str:
    """:func:`_hours`, with the decimals that keep a rated time on its side of 72 hours and a
    week: a median of 72.4 h rated Walk does not read "3.0 days", the Run mark."""
    if hours < 72:
        return _hours(hours)
    days = hours / 24
    digits = _rated_digits(days, 1, tuple((t / 24, strict) for t, strict in ROUTING_HOURS_RATED))
    return f"{days:.{digits}f} days"


def _line(number: int, rating: str, value: float | None, figure: str, next_step: str,
          at_stake: float | None = None, **detail: object) -> ScoreLine:
    dimension, question = QUESTIONS[number]
    return ScoreLine(number, dimension, question, rating, value, figure, next_step, at_stake, dict(detail))


# ---------------------------------------------------------------------------------------------
# The five questions


def _unowned_names(inputs: MaturityInputs, *, with_resource: bool | None = None) -> str:
    """The biggest spend no team owns, e.g. ``Amazon EC2 in 999 (i-0legacy) $31.00, missing team``:
    all of it, or only the series with a resource (``with_resource=True``: something to tag) or
    without (``False``: tax, support, fees: nothing to tag).

    The missing mandatory tags are added where the untagged drivers list the same series.
    """
    untagged = inputs.untagged_drivers
    missing = {tuple(row[key] for key in DRIVER_KEYS): row["missing_tags"] for _, row in untagged.iterrows()} \
        if not untagged.empty else {}
    drivers = inputs.unowned_drivers
    if with_resource is not None and not drivers.empty:
        drivers = drivers[(drivers["ResourceId"].fillna("").astype(str) != "") == with_resource]
    names = []
    for _, row in drivers.head(NAMED).iterrows():
        tags = missing.get(tuple(row[key] for key in DRIVER_KEYS))
        names.append(f"{row.ServiceName or 'spend'} in {row.SubAccountId or row.ProviderName}"
                     + (f" ({row.ResourceId})" if row.ResourceId else "") + f" {format_usd(row.cost)}"
                     + (f", missing {tags}" if tags else ""))
    return "; ".join(names)


def rate_attribution(inputs: MaturityInputs) -> ScoreLine:
    """Question 1 (see the module docstring)."""
    cov = inputs.coverage
    share = cov.share
    if share is None:
        return _line(1, "Crawl", None, f"no spend recorded in {inputs.attribution_period}",
                     "Ingest cost data first: `costbot ingest file PATH` or a connector.")
    shared_in_use = cov.allocated_shared > 0 or cov.unallocated == 0
    # The parts in cents as `costbot coverage` splits them (largest remainder): rounded alone, they
    # can miss the total printed beside them by a cent.
    total = cents(cov.total)
    direct, shared, unallocated = split_to_cents([cov.allocated_direct, cov.allocated_shared, cov.unallocated],
                                                 total)
    rating = _rate(share, ATTRIBUTION_WALK, ATTRIBUTION_RUN, run_condition=shared_in_use)
    rated = ((ATTRIBUTION_WALK, False), (ATTRIBUTION_RUN, True))
    shown = _rated_pct(share, rated)
    period = inputs.attribution_period
    figure = (f"{shown} of {period}'s {format_usd(total)} allocated "
              f"({format_usd(direct)} direct, {format_usd(shared)} shared); {format_usd(unallocated)} unallocated")
    named = _unowned_names(inputs)
    tags = ", ".join(f"{tag} {_pct(inputs.tag_coverage.get(tag))}" for tag in inputs.mandatory_tags)
    if rating == "Run" and unallocated > 0:  # not "$0.00 still has no owner" for a fraction of a cent
        # Run, but spend is still unowned: that is the step, not "Keep it" (a finance lead
        # skimming "Keep it" reads "nothing to do").
        step = (f"Own the rest: {format_usd(unallocated)} of {period} still has no owner"
                + (f"; the biggest: {named}" if named else "") + ". Give it one with a match rule in teams.yml "
                "(a tag or an account), or a `shared_costs` pool for spend no resource carries (tax, support). "
                f"The other {shown} has an owner, shared costs split.")
    elif rating == "Run":
        step = f"Keep it: {shown} of {period} has an owner, shared costs split."
    elif rating == "Walk" and share > ATTRIBUTION_RUN:
        step = (f"Allocate shared costs: {format_usd(unallocated)} of {period} has no owner "
                f"and no shared pool; add a `shared_costs` pool in teams.yml (proportional, even or fixed)"
                + (f" for: {named}." if named else "."))
    elif rating == "Walk":
        step = (f"Close the attribution gap: {format_usd(unallocated)} of {period} ({_pct(1 - share)}) has no "
                "owner. Give its biggest parts one with a match rule in teams.yml (a tag or an account) or a "
                "`shared_costs` pool" + (f": {named}." if named else ".")
                + (f" Tag coverage: {tags}." if tags else ""))
    else:
        count = len(inputs.mandatory_tags)
        define = ("" if count >= ARTICLE_MANDATORY_TAGS else
                  f"Define {ARTICLE_MANDATORY_TAGS} mandatory tags (teams.yml has {count}"
                  + (f": {', '.join(inputs.mandatory_tags)}" if count else "") + ") and enforce them in account "
                  "policy. ")
        # Only a resource can carry a tag: spend without one (tax, support, fees) needs a pool
        # or an account rule, and telling a team to tag it sends them nowhere.
        taggable = _unowned_names(inputs, with_resource=True) if named else ""
        untaggable = _unowned_names(inputs, with_resource=False) if named else ""
        # With no team at all, a tag has no owner to point to: the teams come before the tags.
        first = ("Define your teams first: teams.yml names no team (`COSTBOT_TEAMS` or `--teams` points to it), so "
                 "no spend can have an owner. Name each team with its channel and match rules (a tag such as "
                 "team=NAME, or its accounts). Then fix tagging. " if inputs.teams_defined == 0 else "Fix tagging first. ")
        step = (f"{first}{define}Tag the biggest spend no team owns"
                + (f": {taggable}" if taggable else "") + (f" (tag coverage: {tags})" if tags else "") + "."
                + (f" Spend with no resource to tag goes to a `shared_costs` pool or an account rule in "
                   f"teams.yml: {untaggable}." if untaggable else "")
                + f" {format_usd(unallocated)} of {period} has no owner today.")
    return _line(1, rating, _rated_value(share, rated), figure, step, float(unallocated),
                 period=inputs.attribution_period, total=float(total), unallocated=float(unallocated),
                 shared=float(shared))


def _alert_names(timings: Sequence[AlertTiming]) -> str:
    biggest = sorted(timings, key=lambda t: (-abs(t.impact), str(t.anomaly_id)))[:NAMED]
    return "; ".join(f"#{t.anomaly_id} {t.scope or t.team} {format_usd(t.impact)}" for t in biggest)


def _misrouted_causes(misrouted: Sequence[AlertTiming], unallocated_team: str) -> str:
    """Why alerts went to the default channel, and the fix for each cause: spend no rule owns
    needs a match rule; a team's alert lands there when its channel is the default one (or the
    team left teams.yml), and it needs a channel of its own, not a rule."""
    unowned = [t for t in misrouted if t.team == unallocated_team]
    owned = [t for t in misrouted if t.team != unallocated_team]
    teams = sorted({t.team for t in owned})
    one = len(teams) == 1
    team_fix = (f"{', '.join(teams)} own{'s' if one else ''} {'its' if one else 'their'} spend but "
                f"{'its' if one else 'their'} alerts post there: {_alert_names(owned)}. Give "
                f"{'it' if one else 'each'} a channel of its own in teams.yml (`channel:`).")
    if not owned:
        return f" because no rule owns their spend: {_alert_names(unowned)}. Add match rules in teams.yml."
    if not unowned:
        return f": {team_fix}"
    return (f". No rule owns the spend of {len(unowned)} ({format_usd(sum(abs(t.impact) for t in unowned))}): "
            f"{_alert_names(unowned)}; add match rules in teams.yml. {len(owned)} "
            f"({format_usd(sum(abs(t.impact) for t in owned))}): {team_fix}")


def rate_routing(inputs: MaturityInputs) -> ScoreLine:
    """Question 2 (see the module docstring)."""
    # The 90 days up to as_of, as many as its at-stake is spread over (not 91).
    since = inputs.as_of - timedelta(days=ROUTING_WINDOW_DAYS)
    posted = [t for t in inputs.alert_timings if t.posted_at is not None and t.posted_at.date() > since]
    if not posted:
        return _line(2, "Crawl", None, f"no anomaly alert posted in the last {ROUTING_WINDOW_DAYS} days",
                     "Check that detection runs daily after ingestion (`costbot detect`) and that teams.yml "
                     "thresholds are not set so high that nothing is ever raised.")
    hours = statistics.median(t.hours_to_alert for t in posted)  # type: ignore[misc]
    owned = sum(1 for t in posted if t.routed_to_owner) / len(posted)
    responses = [h for h in (t.hours_to_response for t in posted) if h is not None]
    response = statistics.median(responses) if responses else None
    rating = ("Crawl" if hours > ROUTING_WALK_HOURS else
              "Run" if hours <= ROUTING_RUN_HOURS and owned >= ROUTING_RUN_OWNER_SHARE else "Walk")
    # Both rated numbers keep the decimals that put them on their side (89.6 % of alerts with
    # their owner is not Run's 90 %).
    owner_rated = ((ROUTING_RUN_OWNER_SHARE, False),)
    owner_digits = _rated_digits(owned * 100, 0, tuple((t * 100, strict) for t, strict in owner_rated))
    figure = (f"median {_rated_hours(hours)} from cost to alert over {len(posted)} alert{'s' if len(posted) != 1 else ''}; "
              f"{owned * 100:.{owner_digits}f} % posted in "
              f"the owning team's channel; "
              + (f"first human response after a median {_hours(response)} (from {_count(len(responses), 'response')})"
                 if response is not None else "no human response recorded yet"))
    misrouted = [t for t in posted if not t.routed_to_owner]
    slow = [t for t in posted if t.routed_to_owner and (t.hours_to_alert or 0) > ROUTING_RUN_HOURS]
    # The impact of the window's misrouted or slow alerts, per month of the window: a drop's
    # alert in the wrong channel is as unmanaged as a rise's, so sizes, not signed sums.
    at_stake = sum(abs(t.impact) for t in misrouted + slow) * DAYS_PER_MONTH / ROUTING_WINDOW_DAYS
    sooner = (f"Alert sooner: the median alert comes {_rated_hours(hours)} after the cost day; ingest and detect "
              "daily as soon as the provider's data lands (sources.yml schedule), and check the sources' "
              "freshness with `costbot coverage`.")
    route = (f"Route alerts to owners: {len(misrouted)} of {len(posted)} alerts "
             f"({format_usd(sum(abs(t.impact) for t in misrouted))}) went to the default channel"
             + _misrouted_causes(misrouted, inputs.unallocated_team))
    if misrouted and hours > ROUTING_RUN_HOURS:
        # Both keep it from Run: a median past a week is what holds it at Crawl, so speed first there.
        step = f"{sooner} {route}" if rating == "Crawl" else f"{route} {sooner}"
    elif misrouted:
        step = route
    elif slow or rating != "Run":
        step = sooner
    else:
        step = "Keep it: alerts reach their owners automatically within hours."
    return _line(2, rating, round(hours, _rated_digits(hours, 2, ROUTING_HOURS_RATED)), figure, step, at_stake,
                 owner_share=_rated_value(owned, owner_rated),
                 alerts=len(posted), median_response_hours=None if response is None else round(response, 2),
                 responses=len(responses))


def _short_title(title: str) -> str:
    """A finding's title in a next step, at most TITLE_SHOWN characters: the ``#id`` names it, and
    six titles of up to 300 characters pushed the step's closing sum past a Slack section's
    3,000 characters, where it was cut."""
    return title if len(title) <= TITLE_SHOWN else title[:TITLE_SHOWN - 1].rstrip() + "\u2026"


def _finding_names(findings: Sequence[FindingSummary]) -> str:
    return "; ".join(f"#{f.id} {f.team} \u201c{_short_title(f.title)}\u201d {format_usd(f.estimate_monthly)}/month "
                     f"({f.state.replace('_', ' ')} since {f.identified_on:%d %b})" for f in findings)


def _implemented_names(findings: Sequence[FindingSummary]) -> str:
    return "; ".join(f"#{f.id} {f.team} \u201c{_short_title(f.title)}\u201d {format_usd(f.estimate_monthly)}/month "
                     f"({f.state.replace('_', ' ')}"
                     + (f" on {f.implemented_on:%d %b})" if f.implemented_on else ")") for f in findings)


def _not_realized_names(findings: Sequence[FindingSummary]) -> str:
    return "; ".join(f"#{f.id} {f.team} \u201c{_short_title(f.title)}\u201d {format_usd(f.estimate_monthly)}/month estimated"
                     + (f", {format_usd(f.realized_monthly)}/month measured" if f.realized_monthly is not None else "")
                     for f in findings)


def rate_implementation(inputs: MaturityInputs) -> ScoreLine:
    """Question 3 (see the module docstring)."""
    # Whole quarters of identification, as the savings ledger's rows are (a 365-day window cut
    # one in two, so no sum of `costbot savings --quarter` rows gave the scorecard's figures).
    last = pd.Timestamp(inputs.as_of).to_period("Q")
    first = last - (IMPLEMENTATION_QUARTERS - 1)
    since = first.start_time.date()
    quarters = f"{first}\u2013{last}"
    cohort = [f for f in inputs.findings if f.identified_on >= since]
    if not cohort:
        return _line(3, "Crawl", None, f"no savings findings identified in the last four quarters ({quarters})",
                     "Track savings as findings: `/cost finding new`, or import AWS Cost Optimization Hub "
                     "recommendations, so every opportunity is followed to a verified saving.")
    # The savings ledger's figures, so the scorecard and `costbot savings` agree (finops/savings.py).
    total = savings_ledger([f.ledger_record() for f in cohort], by=()).iloc[0]
    rate_usd = total["implementation_rate_usd"]
    rate_count = total["implementation_rate_count"]
    considered = [f for f in cohort if f.state != FindingState.REJECTED]
    rejected = [f for f in cohort if f.state == FindingState.REJECTED]
    done = [f for f in considered if f.state in COUNTS_AS_IMPLEMENTED]
    not_realized = [f for f in considered if f.state == FindingState.NOT_REALIZED]
    open_ = [f for f in considered if f.state not in COUNTS_AS_IMPLEMENTED and f.state != FindingState.NOT_REALIZED]
    identified_usd = sum(f.estimate_monthly for f in considered)
    done_usd = sum(f.estimate_monthly for f in done)
    not_realized_usd = sum(f.estimate_monthly for f in not_realized)
    open_usd = sum(f.estimate_monthly for f in open_)
    verified = int(total["verified_count"])
    rated = ((IMPLEMENTATION_WALK, False), (IMPLEMENTATION_RUN, True))
    if pd.isna(rate_usd):
        value, rating = None, "Crawl"
    else:
        value = float(rate_usd)
        rating = _rate(value, IMPLEMENTATION_WALK, IMPLEMENTATION_RUN, run_condition=verified > 0)
    shown = _pct(None) if value is None else _rated_pct(value, rated)
    # `costbot savings` counts rejected findings in "identified": say which part this base leaves out.
    left_out = (f" ({_count(len(rejected), 'rejected finding')}, "
                f"{format_usd(sum(f.estimate_monthly for f in rejected))}/month, left out)" if rejected else "")
    figure = (f"{shown} of {format_usd(identified_usd)}/month identified in {quarters}{left_out} is implemented "
              f"({format_usd(done_usd)}/month; {len(done)} of {len(considered)} findings, "
              f"{_pct(None if pd.isna(rate_count) else float(rate_count))}); "
              + (f"{len(not_realized)} not realized, {format_usd(not_realized_usd)}/month estimated; "
                 if not_realized else "")
              + f"{verified} verified, {format_usd(total['realized_monthly'])}/month realized")
    biggest = sorted(open_, key=lambda f: (-f.estimate_monthly, f.id))[:NAMED]
    failed = sorted(not_realized, key=lambda f: (-f.estimate_monthly, f.id))[:NAMED]
    # What is left to capture, the bigger part first: findings verification found not realized
    # (re-open them, or open them again with a scope that measures the change) and open ones.
    gaps = []
    if failed:
        them = "it" if len(not_realized) == 1 else "them"
        gaps.append((not_realized_usd, f"Verification found {_count(len(not_realized), 'finding')} not realized, "
                                       f"re-open or re-scope {them}: {_not_realized_names(failed)}."))
    if biggest:
        gaps.append((open_usd, f"{'Next in line' if rating == 'Run' else 'Biggest open findings'}: "
                               f"{_finding_names(biggest)}."))
    gaps.sort(key=lambda gap: -gap[0])
    left = " ".join(text for _, text in gaps)
    waiting = identified_usd - done_usd
    if rating == "Walk" and value is not None and _rate(value, IMPLEMENTATION_WALK, IMPLEMENTATION_RUN) == "Run":
        # Past Run's rate with nothing verified: verification is what holds it at Walk, not the rate.
        unverified = sorted((f for f in done if f.state != FindingState.VERIFIED),
                            key=lambda f: (-f.estimate_monthly, f.id))[:NAMED]
        step = (f"Verify the savings: {shown} of identified savings is implemented, above Run's "
                f"{IMPLEMENTATION_RUN * 100:.0f} %, but none is verified yet: {_implemented_names(unverified)}. The daily "
                "verification (`costbot findings verify`) measures each once its settling window has complete data."
                + (f" {left} {format_usd(waiting)}/month is still waiting." if gaps else ""))
    elif gaps and rating == "Run":
        step = (f"Capture the {format_usd(waiting)}/month left. {left} {shown} of identified savings "
                f"implemented, {verified} verified.")
    elif gaps:
        step = (f"Fix the implementation rate: follow the identified savings through. {left} "
                f"{format_usd(waiting)}/month is still waiting.")
    elif verified == 0:
        step = "Let verification finish: implemented findings are measured after their settling window."
    else:
        step = "Keep it: identified savings are implemented and verified."
    return _line(3, rating, None if value is None else _rated_value(value, rated), figure, step,
                 waiting, count_rate=None if pd.isna(rate_count) else round(float(rate_count), 4),
                 identified_since=since.isoformat(), identified_monthly=round(identified_usd, 2),
                 rejected=len(rejected), implemented_monthly=round(done_usd, 2),
                 not_realized=len(not_realized), not_realized_monthly=round(float(not_realized_usd), 2),
                 verified=verified, realized_monthly=float(total["realized_monthly"]))


def _unexplained_names(v: VarianceSummary) -> str:
    """The biggest lines without a cause, and what the rest adds up to, so the printed parts make
    the printed total: ``a $7,004.80 (why); b $2,146.21 (why)`` or ``...; and $2.70 elsewhere (2 more lines)``."""
    named = "; ".join(f"{label} {format_usd(amount)} ({why})" for label, amount, why in v.unexplained[:NAMED])
    rest = v.unexplained[NAMED:]
    if rest:
        named += (f"; and {format_usd(sum((amount for _, amount, _ in rest), Decimal(0)))} elsewhere "
                  f"({_count(len(rest), 'more line')})")
    return named


def rate_variance(inputs: MaturityInputs) -> ScoreLine:
    """Question 4 (see the module docstring)."""
    v = inputs.variance
    if v is None:
        return _line(4, "Crawl", None, "not enough history for last quarter and the one before",
                     "Keep at least two full quarters of cost data (ingest history: `costbot ingest file PATH`).")
    share = v.explained_share
    rating = _rate(share, VARIANCE_WALK, VARIANCE_RUN, strict_run=False)
    rated = ((VARIANCE_WALK, False), (VARIANCE_RUN, False))
    unexplained = v.unexplained_total  # over the quarter; at stake per month below
    # The share is of the gross movement (rises and falls alike), not of the net change: print both.
    figure = (f"{_rated_pct(share, rated)} of the gross movement ({format_usd(v.gross)}; net {format_usd(v.delta, signed=True)}) "
              f"of {v.period_a} against {v.period_b} explained by named causes (usage, rate, mix, day count, new, "
              "gone, anomalies, findings)")
    rest = _unexplained_names(v)
    if rating == "Run" and rest:
        step = (f"Name the rest: what `/cost why last quarter` cannot name yet ({format_usd(unexplained)} of the "
                f"quarter) is {rest}. Ingest usage quantities for these (FOCUS ConsumedQuantity/PricingQuantity); "
                "the rest of the change is explained with evidence.")
    elif rating == "Run":
        step = "Keep it: `/cost why last quarter` explains the change with evidence."
    elif rest:
        step = (f"Explain the rest ({format_usd(unexplained)} of the quarter): {rest}. Ingest usage quantities for "
                "these (FOCUS ConsumedQuantity/PricingQuantity) and keep anomalies and findings up to date so the "
                "answer can name them.")
    else:
        step = ("Explain the rest: keep anomalies and findings up to date so `/cost why last quarter` can name "
                "the causes of the change.")
    return _line(4, rating, _rated_value(share, rated), figure, step, float(unexplained) / MONTHS_PER_QUARTER,
                 period=v.period_a, compared_with=v.period_b, delta=float(v.delta), gross=float(v.gross),
                 unexplained=float(unexplained),
                 unexplained_lines=[{"label": label, "amount": float(amount), "why": why}
                                    for label, amount, why in v.unexplained])


def _unit_cost_text(t: UnitTrend) -> str:
    """``payments: $0.2630 per order in 2026-10, -9.0 % vs the month before (4 months of history)``."""
    change = "" if t.change_pct is None else f", {t.change_pct:+.1f} % vs the month before"
    return (f"{t.team}: {format_unit_cost(t.cost_per_unit)} per {singular(t.metric)} in {t.period}{change} "
            f"({_count(t.periods, 'month')} of history)")


def rate_unit_cost(inputs: MaturityInputs) -> ScoreLine:
    """Question 5 (see the module docstring)."""
    recent = inputs.as_of - timedelta(days=UNIT_RECENT_DAYS)
    known = [t for t in inputs.unit_trends
             if pd.Timestamp(t.period).to_period("M").end_time.date() >= recent]
    with_trend = [t for t in known if t.has_trend]
    rating = "Run" if with_trend else "Walk" if known else "Crawl"
    best = sorted(known, key=lambda t: (-t.periods, -inputs.team_spend.get(t.team, 0.0), t.team))
    if best:
        # Each unit cost named with its figure (up to NAMED), not "1 more unit cost": which, and at what?
        figure = "; ".join(_unit_cost_text(t) for t in best[:NAMED]) + (
            f"; and {_count(len(best) - NAMED, 'more unit cost')}" if len(best) > NAMED else "")
    else:
        figure = "no cost per unit known for a recent month"
    covered = {t.team for t in known}
    candidates = sorted(((team, spend) for team, spend in inputs.team_spend.items()
                         if team != inputs.unallocated_team and team not in covered),
                        key=lambda pair: (-pair[1], pair[0]))[:NAMED]
    declared = [(team, spend) for team, spend in candidates if inputs.unit_metrics.get(team)]
    undeclared = [(team, spend) for team, spend in candidates if not inputs.unit_metrics.get(team)]
    parts = []
    if declared:
        parts.append("record monthly values (`costbot units ingest FILE`, the units endpoint or `/cost unit record`) "
                     "for " + ", ".join(f"{team}'s {'/'.join(inputs.unit_metrics[team])} "
                                        f"({format_usd(spend)} in {inputs.attribution_period})"
                                        for team, spend in declared))
    if undeclared:
        parts.append("declare `unit_metrics` in teams.yml for " + ", ".join(
            f"{team} ({format_usd(spend)} in {inputs.attribution_period})" for team, spend in undeclared))
    if known and not with_trend:
        parts.append("keep recording them monthly: a trend needs 3 months")
    if rating == "Run":
        step = ("Keep it: unit costs are measured monthly with a trend; set an improvement target"
                + (". Extend them: " + "; ".join(parts) + "." if parts else "."))
    else:
        step = ("Build unit economics: " + ("; ".join(parts) or "declare `unit_metrics` for your teams in teams.yml "
                                            "and record monthly values (`costbot units ingest FILE`)")
                + ", then set an improvement target.")
    return _line(5, rating, None if not best else round(best[0].cost_per_unit, 6), figure, step,
                 unit_costs=[{"team": t.team, "metric": t.metric, "period": t.period,
                              "cost_per_unit": round(t.cost_per_unit, 6),
                              "change_pct": None if t.change_pct is None else round(t.change_pct, 2),
                              "months": t.periods} for t in best])


def maturity_scorecard(inputs: MaturityInputs) -> Scorecard:
    """The five lines, and which one the next step is for (see the module docstring)."""
    lines = (rate_attribution(inputs), rate_routing(inputs), rate_implementation(inputs), rate_variance(inputs),
             rate_unit_cost(inputs))
    weakest = min(lines, key=lambda line: (RATINGS.index(line.rating), -(line.at_stake or 0.0), line.number))
    return Scorecard(inputs.as_of, lines, weakest.number)
