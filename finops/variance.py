"""Why did spend change? The decomposition of a cost change between two periods.

:func:`explain_variance` answers a :class:`~finops.periods.Question`: totals for the period asked
about (A) and the comparison (B), the change A - B, the contributors that carry it, how much of
each is usage, rate, mix, day count, new or gone spend, and which anomalies and findings explain
part of it. Money is exact at the edge: every figure is in cents, the contributors add up to the
change and the parts of each contributor add up to its change, as printed.

Accepted frames
---------------
1. A *daily cost frame* (:mod:`finops.model`): rows whose ``ChargePeriodStart`` falls in A count
   for A, those in B for B (in both if the periods overlap), the rest are ignored.
   :func:`aggregate_for_variance` reduces it to shape 2; that is all the daily shape adds.
2. A *pre-aggregated frame*, what storage's SQL group-by returns (one row per period and series;
   rows need not be unique, they are summed): a ``period`` column holding ``"a"`` or ``"b"``, any
   of the :data:`VARIANCE_KEYS` dimension columns (missing ones count as ""), the metric's money
   column (``EffectiveCost`` for ``effective``, ``BilledCost`` for ``billed``) and optionally
   ``PricingQuantity`` / ``ConsumedQuantity`` (NaN or absent where the source has none).
   No day count is needed: both periods' lengths come from the question (calendar days, the same
   for every series: a series absent on a day spent $0 that day).

Scope: a daily frame is filtered with :func:`filter_scope`; a pre-aggregated frame is trusted to
hold the question's scope already (storage applies it in SQL, :func:`aggregate_for_variance`
applies it while aggregating). Filtering it again could only lose rows: it lacks the columns some
filters read (``account`` matches the account name too, ``tag:`` reads the tags).

Contributors (the drill-down)
-----------------------------
Spend is first split into every team (every service when the scope holds one team, or the data
none), then each node is drilled into the child that carries at least half (:data:`DRILL_SHARE`)
of its children's gross change (sum of absolute changes, so offsetting moves neither hide nor
cancel): team -> service -> whichever of account / region / SKU / resource is the most
concentrated, then the next most concentrated, and so on. A team or service with a single value
inside a node names it ("payments / Amazon EC2"); the other dimensions with a single value, and
empty ones, are skipped since they tell the reader nothing. The siblings left
behind form a "rest" line ("payments / 4 other services") that is drilled the same way, so a few
large children come out one by one while a spread-out change stays one summarised line. Nodes
whose children move less than :data:`MATERIAL_SHARE` of the top-level gross change are not
drilled. Lines are ordered by absolute change; past ``top_n`` (and every line whose change rounds
to $0.00) they go into one "other" line, so the list still adds up to the change.

Parts of a contributor
----------------------
Inside a contributor the change is computed per *price line* (the contributor's spend grouped by
account, region, SKU, provider and unit; resources are merged so that instance churn reads as
usage, not as new and gone spend). Let D_a, D_b be the two periods' day counts, C the cost,
c = C / D the daily cost, q = Q / D the daily quantity and p = c / q the unit price. Then:

- ``new``: C_a of a price line with no cost in B; ``gone``: -C_b of one with no cost in A;
- ``days`` = (D_a - D_b) x (c_a + c_b) / 2: the change a different number of days makes at the
  average daily spend of the two periods (symmetric form; the rest is (D_a + D_b) / 2 x (c_a - c_b),
  the change of the daily run rate);
- the run-rate change, where both periods have quantities (PricingQuantity if both are > 0,
  else ConsumedQuantity), is split at the midpoint: usage_i = D x (q_a - q_b)(p_a + p_b)/2 and
  rate_i = D x (p_a - p_b)(q_a + q_b)/2 with D = (D_a + D_b)/2. Rate covers price changes, lost or
  new discounts and commitments (EffectiveCost per unit). ``mix`` is the part of usage that comes
  from shifting volume between price lines of one service and unit (SKUs, regions, accounts):
  per service and unit, the usage is D x (sum q_a - sum q_b) x (P_a + P_b)/2 with P its average
  unit price, and mix = sum usage_i - that. Volume in different units or services is not added up,
  so a shift between them counts as usage (EC2 hours moving to RDS hours is not a cheaper mix);
- where quantities are missing in either period the run-rate change is
  ``unexplained_by_quantity``: usage and rate cannot be told apart there;
- charges that do not accrue by the day (ChargeCategory Purchase, Tax, Credit or Adjustment:
  a monthly support fee, a commitment fee on the 1st, tax on the last day, a credit) are their own
  price lines and are compared as totals: D_a = D_b = 1 for them, so a 31-day month against a
  30-day one shows no day count for a fee that did not change, and a changed fee is its whole
  change (usage and rate where it has quantities). Rows without a category count as usage.
  A recurring fee charged every day (FOCUS ChargeFrequency "Recurring") is treated as a fee too:
  the store keeps no charge frequency to tell the two apart;
- ``charge_timing``: such a charge found in one period only, when the periods are not whole
  calendar months (weeks, ``last N days``, ranges, months so far): a monthly fee on the 1st or tax
  on the last day falls inside one window and not the other, which says nothing about new or gone
  spend. Between whole months it is new or gone like any other spend.

Every formula is antisymmetric, so swapping A and B flips every sign (and turns new into gone);
the parts add up exactly to the contributor's change. The parts are computed per drilled node
(the finest lines the drill-down makes), and a line folded from several nodes ("other") has the
sum of theirs, so no figure depends on how many lines are listed (``top_n``, "Show more").

Rounding
--------
Each node's A and B is its exact sum rounded to the cent (half to even), as ``costbot costs``
rounds each of its rows, so a line reads the same as the answer for its own scope ("Drill down")
and as ``costs`` for the same team and service. The totals are the exact totals rounded the same
way. The few cents by which the lines' rounded figures miss the rounded totals (at most half a
cent per line) go to the "other" line; when there is none, one cent each to the lines that
rounding moved most, which may then read one cent off their own answer. Inside a line, each part
is rounded half to even and the cents still missing go to the parts that lost the most, so the
parts add up to the line's change exactly; both rules keep the swap symmetry.

Explainers and ``explained_share``
----------------------------------
:class:`Explainer` records (anomalies, verified findings) carry a signed amount over their own
days; the share of it inside A minus the share inside B is what it explains of the change.
``explained_share`` in [0, 1] is the share of the gross movement (sum over contributors of the
absolute values of their parts) for which the answer names a cause: a part is *unknown* when it is
``unexplained_by_quantity`` or when it sits in the "other" line (not attributed to anything the
answer names); every explainer then covers up to its amount of the unknown part of the most
specific contributor its dimensions fit, on the side of its own sign only (extra spend explains an
unknown increase, a saving an unknown decrease: a saving inside a line whose cost rose unexplained
leaves that rise unexplained). explained_share = 1 - (unknown not covered) / gross, and 1 when
nothing moved. When all parts move the same way the gross movement equals |delta|.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

import numpy as np
import pandas as pd

from finops.model import DAY, MONEY, QUANTITIES, metric_column, parse_tags
from finops.money import CENT, cents, format_usd, from_micros, to_micros
from finops.periods import SCOPE_COLUMNS, TAG_PREFIX, Period, Question, scope_phrase

PERIOD = "period"

# A node is drilled into its largest child when that child carries at least this share of the
# node's gross change: "most of it" in the sense a reader expects from "drilling down".
DRILL_SHARE = 0.5
# Nodes whose children's gross change is below this share of the top level's are left whole:
# drilling them would only lengthen the list with lines nobody reads.
MATERIAL_SHARE = 0.01
DEFAULT_TOP_N = 10

FIXED_LEVELS: tuple[str, ...] = ("team", "service")
DETAIL_LEVELS: tuple[str, ...] = ("account", "region", "sku", "resource")
DRILL_COLUMNS: dict[str, str] = {key: SCOPE_COLUMNS[key] for key in (*FIXED_LEVELS, *DETAIL_LEVELS)}
# Columns that tell price lines apart besides the drill-down dimensions.
PRICE_COLUMNS: tuple[str, ...] = ("ProviderName", "PricingUnit", "ConsumedUnit", "ChargeCategory")
# Charges that do not accrue by the day (FOCUS ChargeCategory values): never scaled by day count.
FIXED_CHARGE_CATEGORIES: frozenset[str] = frozenset({"purchase", "tax", "credit", "adjustment"})
VARIANCE_KEYS: tuple[str, ...] = (*DRILL_COLUMNS.values(), *PRICE_COLUMNS)

PARTS: tuple[str, ...] = ("usage", "rate", "mix", "days", "new", "gone", "charge_timing", "unexplained_by_quantity")
_UNEXPLAINED = PARTS.index("unexplained_by_quantity")
# The words for each part in answers (Slack and terminal alike).
PART_WORDS: dict[str, str] = {"usage": "usage", "rate": "rate", "mix": "mix", "days": "day count",
                              "new": "new spend", "gone": "spend gone",
                              "charge_timing": "monthly charge in one period only",
                              "unexplained_by_quantity": "not split (no quantities)"}
_PLURALS = {"team": "teams", "service": "services", "account": "accounts", "region": "regions",
            "sku": "SKUs", "resource": "resources"}


ExplainerKind = Literal["anomaly", "finding"]
# Explainer dimensions may use the question's keys, the anomaly JSON's or FOCUS column names.
_EXPLAINER_KEYS: dict[str, str] = {"sub_account_id": "account", "sub_account_name": "account_name",
                                   "SubAccountName": "account_name",
                                   **{column: key for key, column in SCOPE_COLUMNS.items()}}


def _number(amount: Decimal) -> float:
    """A JSON number for an amount in cents; adding 0.0 turns -0.0 (from Decimal("-0.00")) into 0.0."""
    return float(amount) + 0.0


def part_word(name: str, value: Decimal) -> str:
    """The words for a part of a change: a negative "new" amount is a new credit, a positive
    "gone" amount a credit that went away (not "spend gone +$446.02")."""
    if name == "new" and value < 0:
        return "new credit"
    if name == "gone" and value > 0:
        return "credit gone"
    return PART_WORDS[name]


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Explainer:
    """An anomaly or a verified finding, as the caller knows it, to explain part of a change.

    ``amount`` is the signed effect on spend over ``start``..``end`` (both included), spread evenly
    over those days: positive for extra spend (an anomaly's impact), negative for spend removed
    (a verified saving over the days it ran). ``end=None`` means still running: the effect then
    spans ``start`` to the last day of the later period. ``dimensions`` uses the question's filter
    keys (``team``, ``service``, ``account``, ``region``, ``provider``, ``sku``, ``resource``,
    ``tag:NAME``; ``sub_account_id`` and FOCUS column names are accepted too) and may add
    ``account_name`` (``sub_account_name``), so that a question naming the account by its name finds it.
    An explainer counts for a question only when its dimensions show it inside the question's scope:
    every filter of the question must be among them and agree (see :func:`explainer_in_scope`).
    """

    kind: ExplainerKind
    id: int | str
    label: str
    state: str
    amount: float
    start: date
    end: date | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("anomaly", "finding"):
            raise ValueError(f"explainer kind must be 'anomaly' or 'finding', not {self.kind!r}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"{self.kind} {self.id}: end {self.end} is before start {self.start}")

    def normalized_dimensions(self) -> dict[str, str]:
        """Dimensions under the question's keys (``sub_account_id`` -> ``account``, ...)."""
        return {_EXPLAINER_KEYS.get(key, key): value for key, value in self.dimensions.items()}


@dataclass(frozen=True)
class ExplainedItem:
    """What one explainer accounts for: its amount inside A, inside B, and A - B (``amount``).

    ``share`` is ``amount`` over the answer's delta (negative when it moved spend against the
    change; None when the delta is 0).
    """

    explainer: Explainer
    amount: Decimal
    in_a: Decimal
    in_b: Decimal
    share: float | None

    def to_json(self) -> dict[str, object]:
        e = self.explainer
        return {"kind": e.kind, "id": e.id, "label": e.label, "state": e.state,
                "amount": _number(self.amount), "in_a": _number(self.in_a), "in_b": _number(self.in_b),
                "share": None if self.share is None else round(self.share, 4),
                "start": e.start.isoformat(), "end": e.end.isoformat() if e.end else None,
                "dimensions": e.normalized_dimensions()}


@dataclass(frozen=True)
class Contributor:
    """One line of the answer.

    ``kind``: ``"item"`` is one combination of ``dimensions`` (when it was not drilled further,
    ``covers`` says over how many values of the next dimension its change is spread); ``"rest"``
    is the values of ``covers[0]`` inside ``dimensions`` not listed on their own lines ("payments /
    4 other services"); ``"other"`` is everything past the top lines. Money is in exact cents;
    ``a - b == delta`` and the :data:`PARTS` add up to ``delta``. ``rest_values`` are the values of
    ``covers[0]`` a "rest" line holds (so that drilling into it leaves out the lines shown apart).
    """

    label: str
    kind: Literal["item", "rest", "other"]
    dimensions: dict[str, str]
    covers: tuple[str | None, int] | None
    a: Decimal
    b: Decimal
    delta: Decimal
    usage: Decimal
    rate: Decimal
    mix: Decimal
    days: Decimal
    new: Decimal
    gone: Decimal
    charge_timing: Decimal
    unexplained_by_quantity: Decimal
    rest_values: tuple[str, ...] = ()

    def parts(self) -> dict[str, Decimal]:
        """The split of ``delta``, by :data:`PARTS` name."""
        return {name: getattr(self, name) for name in PARTS}

    def to_json(self) -> dict[str, object]:
        covers = None if self.covers is None else {"dimension": self.covers[0], "count": self.covers[1]}
        return {"label": self.label, "kind": self.kind, "dimensions": dict(self.dimensions), "covers": covers,
                "a": _number(self.a), "b": _number(self.b), "delta": _number(self.delta),
                **{name: _number(value) for name, value in self.parts().items()}}


@dataclass(frozen=True)
class VarianceAnswer:
    """The answer to a ``why`` question; :meth:`to_json` is the ``costbot why --json`` document.

    ``explained_share`` (0..1, for the maturity scorecard) is defined in the module docstring
    ("Explainers and explained_share"); ``delta_pct`` is delta over the size of B's total (its
    absolute value, so that a rise from a net credit of -$100 to $50 reads +150 %, not -150 %) in
    percent, rounded to 2 decimals, None when B's total is 0.
    """

    question: Question
    total_a: Decimal
    total_b: Decimal
    delta: Decimal
    delta_pct: float | None
    contributors: tuple[Contributor, ...]
    explained_by: tuple[ExplainedItem, ...]
    explained_share: float
    note: str | None

    @property
    def days_effect(self) -> Decimal:
        """The day-count part of the change, over all contributors."""
        return sum((c.days for c in self.contributors), Decimal("0.00"))

    def to_json(self) -> dict[str, object]:
        """The SPEC's variance JSON: money as numbers rounded to cents that add up as printed."""
        q = self.question

        def period(p: Period, total: Decimal) -> dict[str, object]:
            return {**p.to_json(), "total": _number(total)}

        return {
            "question": q.text,
            "scope": {key: list(values) for key, values in q.scope.items()},
            "metric": q.metric,
            "period_a": period(q.period_a, self.total_a),
            "period_b": period(q.period_b, self.total_b),
            "delta": _number(self.delta),
            "delta_pct": None if self.delta_pct is None else self.delta_pct + 0.0,
            "contributors": [c.to_json() for c in self.contributors],
            "explained_by": [item.to_json() for item in self.explained_by],
            "explained_share": self.explained_share,
            "note": self.note,
        }


# ---------------------------------------------------------------------------------------------
# Inputs


def filter_scope(frame: pd.DataFrame, scope: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Rows of ``frame`` inside ``scope`` (a :attr:`Question.scope`): keys AND, values OR.

    Values compare case-insensitively; ``account`` matches SubAccountId or SubAccountName;
    ``tag:NAME`` reads the canonical-JSON ``Tags`` column (tag names case-insensitive; the value
    "" matches rows without the tag). A key whose column is missing raises ValueError.
    """
    mask = np.ones(len(frame), dtype=bool)
    for key, values in scope.items():
        wanted = {str(v).casefold() for v in values}
        if key.startswith(TAG_PREFIX):
            name = key[len(TAG_PREFIX):].casefold()
            mask &= _matches(frame, "Tags", wanted, lambda tags, name=name: _tag_value(tags, name))
        elif key in SCOPE_COLUMNS:
            hit = _matches(frame, SCOPE_COLUMNS[key], wanted, str)
            if key == "account" and "SubAccountName" in frame:
                hit |= _matches(frame, "SubAccountName", wanted, str)
            mask &= hit
        else:
            raise ValueError(f"unknown scope key {key!r}")
    return frame[mask]


def _tag_value(tags: str, name: str) -> str:
    return next((str(v) for k, v in parse_tags(tags).items() if k.casefold() == name), "")


def _matches(frame: pd.DataFrame, column: str, wanted: set[str], value_of: Callable[[str], str]) -> np.ndarray:
    """Vectorized membership test: each distinct value is looked at once."""
    if column not in frame:
        raise ValueError(f"the frame has no {column} column to filter on")
    codes, uniques = pd.factorize(frame[column].fillna("").astype(str))
    hits = np.array([value_of(u).casefold() in wanted for u in uniques], dtype=bool)
    return hits[codes] if len(codes) else np.zeros(0, dtype=bool)


def _labelled_periods(frame: pd.DataFrame, question: Question) -> pd.DataFrame:
    """The daily rows in A and in B with a ``period`` column (a row in both periods appears twice)."""
    days = pd.to_datetime(frame[DAY])
    pieces = []
    # Earlier period first, whichever is A: the rows' order (and so every sum's) must not depend
    # on which period was asked about, or swapping them would not flip signs exactly.
    periods = sorted((("a", question.period_a), ("b", question.period_b)), key=lambda p: (p[1].start, p[1].end))
    for label, period in periods:
        inside = ((days >= pd.Timestamp(period.start)) & (days <= pd.Timestamp(period.end))).to_numpy()
        pieces.append(frame.loc[inside].assign(**{PERIOD: label}))
    return pd.concat(pieces, ignore_index=True)


def aggregate_for_variance(frame: pd.DataFrame, question: Question) -> pd.DataFrame:
    """Reduce a daily cost frame to the pre-aggregated shape (see the module docstring).

    Only the rows inside the question's scope; one row per period ("a"/"b") and combination of
    the :data:`VARIANCE_KEYS` columns present; money summed, quantities summed with NaN kept where
    a group has none. This is what storage's SQL returns for large stores; :func:`explain_variance`
    gives the same answer for either.
    """
    keys = [c for c in VARIANCE_KEYS if c in frame]
    values = [c for c in (*MONEY, *QUANTITIES) if c in frame]
    rows = _labelled_periods(filter_scope(frame, question.scope)[[DAY, *keys, *values]], question)
    for key in keys:
        rows[key] = rows[key].fillna("").astype(str)
    grouped = rows.groupby([PERIOD, *keys], sort=True)
    money = grouped[[c for c in values if c in MONEY]].sum()
    quantities = grouped[[c for c in values if c in QUANTITIES]].sum(min_count=1)
    return pd.concat([money, quantities], axis=1).reset_index()


def _group_ids(*codes: np.ndarray) -> np.ndarray:
    """Dense ids of the distinct combinations of ``codes``, numbered in their lexicographic order.

    The numbering depends on the codes only, never on which rows are A or B: every later sum runs
    in the same order whichever period is asked about, which keeps the swap symmetry exact.
    """
    ids = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        width = int(column.max()) + 1 if len(column) else 1
        ids = pd.factorize(ids * width + column, sort=True)[0]
    return ids


def _sum_by(ids: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(ids, weights=values, minlength=size).astype(float)  # int when empty


def _sum_quantity_by(ids: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Like :func:`_sum_by`, but NaN where a group has no quantity at all (not 0)."""
    known = ~np.isnan(values)
    total = _sum_by(ids, np.where(known, values, 0.0), size)
    total[_sum_by(ids, known.astype(float), size) == 0] = np.nan
    return total


@dataclass(frozen=True)
class _Series:
    """One entry per series (combination of the key columns present) with cost and quantities in
    A and B side by side; key columns as integer codes into ``uniques``."""

    codes: dict[str, np.ndarray]
    uniques: dict[str, np.ndarray]
    cost_a: np.ndarray
    cost_b: np.ndarray
    pq_a: np.ndarray
    pq_b: np.ndarray
    cq_a: np.ndarray
    cq_b: np.ndarray

    def text(self, column: str) -> np.ndarray:
        """The values of a key column per series ("" for every series when it is absent)."""
        if column not in self.codes:
            return np.full(len(self.cost_a), "", dtype=object)
        return self.uniques[column][self.codes[column]]

    def flag(self, column: str, test: Callable[[str], bool]) -> np.ndarray:
        """``test`` of a key column's value per series, evaluated once per distinct value."""
        if column not in self.codes:
            return np.full(len(self.cost_a), test(""), dtype=bool)
        return np.array([test(str(v)) for v in self.uniques[column]], dtype=bool)[self.codes[column]]


def _series(rows: pd.DataFrame, metric: str) -> _Series:
    """Sum the rows (the pre-aggregated shape) per series and period."""
    money = metric_column(metric)
    if PERIOD not in rows:
        raise ValueError(f"a pre-aggregated frame needs a {PERIOD!r} column with 'a' or 'b'")
    if money not in rows:
        raise ValueError(f"the frame has no {money} column for the {metric!r} metric")
    period = rows[PERIOD].astype(str)
    unknown = sorted(set(period.unique()) - {"a", "b"})
    if unknown:
        raise ValueError(f"the {PERIOD!r} column holds {unknown[:3]}: only 'a' and 'b' are allowed")
    row_codes, uniques = {}, {}
    for column in VARIANCE_KEYS:
        if column in rows:
            codes, values = pd.factorize(rows[column].fillna("").astype(str))
            row_codes[column], uniques[column] = codes, np.asarray(values, dtype=object)
    ids = _group_ids(*row_codes.values()) if row_codes else np.zeros(len(rows), dtype=np.int64)
    size = int(ids.max()) + 1 if len(ids) else 0
    first = np.zeros(size, dtype=np.int64)
    first[ids] = np.arange(len(ids))  # a row of each series (all its rows share the key codes)
    in_b = (period == "b").to_numpy(dtype=bool)
    slots = 2 * ids + in_b  # series i: slot 2i is A, 2i + 1 is B
    cost = pd.to_numeric(rows[money]).fillna(0.0).to_numpy(dtype=float)
    # Money is whole micro-dollars: rounding the float sums back to them makes a series whose
    # rows net to nothing (0.10 + 0.20 - 0.30) exactly $0, so it has no spend there (new or gone).
    measures = {"cost": np.round(_sum_by(slots, cost, 2 * size), 6).reshape(size, 2)}
    for short, column in (("pq", "PricingQuantity"), ("cq", "ConsumedQuantity")):
        values = pd.to_numeric(rows[column]).to_numpy(dtype=float) if column in rows else np.full(len(rows), np.nan)
        measures[short] = _sum_quantity_by(slots, values, 2 * size).reshape(size, 2)
    moved = (measures["cost"] != 0).any(axis=1)
    return _Series(codes={c: codes[first][moved] for c, codes in row_codes.items()}, uniques=uniques,
                   **{f"{m}_{side}": measures[m][moved, k] for m in measures for k, side in enumerate("ab")})


# ---------------------------------------------------------------------------------------------
# The drill-down


@dataclass
class _Node:
    rows: np.ndarray  # indices into the series table
    dims: dict[str, str]
    used: frozenset[str]
    level: str | None = None  # the dimension that set it apart from its siblings
    parent: tuple[tuple[str, str], ...] = ()  # the dimensions its siblings share
    rest_of: str | None = None  # holds the values of this dimension not listed separately
    covers: tuple[str, int] | None = None  # left whole: spread over N values of a dimension


def _children(codes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes and the summed weight of each."""
    values, inverse = np.unique(codes, return_inverse=True)
    return values, np.bincount(inverse, weights=weights, minlength=len(values))


def _candidates(node: _Node, available: Sequence[str]) -> list[str]:
    if node.rest_of is not None:
        return [node.rest_of]
    for level in FIXED_LEVELS:
        if level in available and level not in node.used:
            return [level]
    return [d for d in DETAIL_LEVELS if d in available and d not in node.used]


def _drill(codes: dict[str, np.ndarray], uniques: dict[str, np.ndarray], delta: np.ndarray) -> list[_Node]:
    """Partition the series into the answer's lines (see "Contributors" in the module docstring)."""
    available = [d for d in (*FIXED_LEVELS, *DETAIL_LEVELS) if d in codes]
    root = _Node(rows=np.arange(len(delta)), dims={}, used=frozenset())
    stack, final = [root], []
    threshold: float | None = None
    while stack:
        node = stack.pop()
        candidates = _candidates(node, available)
        if not candidates:
            final.append(node)
            continue
        splits = {d: _children(codes[d][node.rows], delta[node.rows]) for d in candidates}
        single = [d for d in candidates if len(splits[d][0]) == 1]
        if node.rest_of is not None and single:
            # Only one value left in a rest line: it is that value's own line.
            node.dims[node.rest_of] = str(uniques[node.rest_of][splits[node.rest_of][0][0]])
            node.used, node.rest_of = node.used | {node.rest_of}, None
            stack.append(node)
            continue
        if single:
            # One value only: a team or service names the line (payments -> payments / EC2); an
            # empty value, or the lone account of a service, tells the reader nothing.
            for d in single:
                value = str(uniques[d][splits[d][0][0]])
                if d in FIXED_LEVELS and value:
                    node.dims[d] = value
            node.used = node.used | set(single)
            stack.append(node)
            continue
        level = candidates[0]
        if node is root and level in FIXED_LEVELS:
            values, sums = splits[level]
            threshold = MATERIAL_SHARE * float(np.abs(sums).sum())
            column = codes[level][node.rows]
            order = np.argsort(column, kind="stable")
            groups = np.split(node.rows[order], np.flatnonzero(np.diff(column[order])) + 1)
            parent = tuple(node.dims.items())
            for code, rows in zip(values, groups, strict=True):
                stack.append(_Node(rows=rows, dims={**node.dims, level: str(uniques[level][code])},
                                   used=node.used | {level}, level=level, parent=parent))
            continue
        best = None
        for d in candidates:
            values, sums = splits[d]
            gross = float(np.abs(sums).sum())
            top = int(np.argmax(np.abs(sums)))
            share = abs(float(sums[top])) / gross if gross > 0 else 0.0
            if best is None or share > best[0]:
                best = (share, gross, d, values[top], len(values))
        share, gross, d, top_code, count = best
        if threshold is None:
            threshold = MATERIAL_SHARE * gross
        if gross <= 0 or share < DRILL_SHARE or gross < threshold:
            node.covers = (d, count)
            final.append(node)
            continue
        in_top = codes[d][node.rows] == top_code
        parent = tuple(node.dims.items())
        stack.append(_Node(rows=node.rows[~in_top], dims=dict(node.dims), used=node.used, level=d,
                           parent=parent, rest_of=d))
        stack.append(_Node(rows=node.rows[in_top], dims={**node.dims, d: str(uniques[d][top_code])},
                           used=node.used | {d}, level=d, parent=parent))
    return final


def _show(key: str, value: str) -> str:
    return value if value else f"(no {key})"


def _plural(key: str | None, count: int) -> str:
    if key is None:
        return "lines" if count != 1 else "line"
    return _PLURALS[key] if count != 1 else key if key != "sku" else "SKU"


def _node_label(node: _Node) -> str:
    base = " / ".join(_show(k, v) for k, v in node.dims.items())
    if node.rest_of is not None and node.covers is not None:  # a rest line is final only with covers
        count = node.covers[1]
        tail = f"{count} other {_plural(node.rest_of, count)}"
        return f"{base} / {tail}" if base else tail
    if node.covers is not None:
        d, count = node.covers
        return f"{base or 'all spend'} ({count} {_plural(d, count)})"
    return base or "all spend"


@dataclass(frozen=True)
class _Line:
    """A contributor before rounding: its series and how to name it."""

    members: list[int]  # indices of the drilled nodes it is made of
    label: str
    kind: Literal["item", "rest", "other"]
    dimensions: dict[str, str]
    covers: tuple[str | None, int] | None
    rest_values: tuple[str, ...] = ()


def _lines(nodes: list[_Node], deltas: np.ndarray, codes: dict[str, np.ndarray], uniques: dict[str, np.ndarray],
           top_n: int) -> list[_Line]:
    """Order the drilled nodes by absolute change (``deltas``, dollars) and fold the tail into one
    "other" line."""
    labels = [_node_label(n) for n in nodes]
    # Changes equal to the micro-dollar are ordered by label, not by the noise of float sums
    # (which differs between a daily frame and storage's pre-aggregated one).
    order = sorted(range(len(nodes)), key=lambda i: (-abs(round(deltas[i], 6)), labels[i]))
    moving = [i for i in order if abs(deltas[i]) >= 0.005]
    unchanged = [i for i in order if abs(deltas[i]) < 0.005]
    # At most top_n + 1 lines: fold the tail only when it is more than one line.
    if len(moving) + bool(unchanged) > top_n + 1:
        listed, folded = moving[:top_n], moving[top_n:] + unchanged
    else:
        listed, folded = moving, unchanged
    lines = []
    for i in listed:
        node = nodes[i]
        if node.rest_of is not None:
            held = uniques[node.rest_of][np.unique(codes[node.rest_of][node.rows])]
            lines.append(_Line([i], labels[i], "rest", dict(node.dims), node.covers, tuple(sorted(map(str, held)))))
        else:
            lines.append(_Line([i], labels[i], "item", dict(node.dims), node.covers))
    if folded:
        members = [nodes[i] for i in folded]
        rows = np.concatenate([m.rows for m in members])
        levels = {(m.level, m.parent) for m in members}
        if len(levels) == 1 and members[0].level is not None:
            level, parent = next(iter(levels))
            count = len(np.unique(codes[level][rows]))
            prefix = " / ".join(_show(k, v) for k, v in parent)
            tail = f"{count} other {_plural(level, count)}"
            lines.append(_Line(folded, f"{prefix} / {tail}" if prefix else tail, "other", dict(parent),
                               (level, count)))
        else:
            common = dict(set.intersection(*(set(m.dims.items()) for m in members)))
            label = f"everything else ({len(members)} {_plural(None, len(members))})"
            lines.append(_Line(folded, label, "other", common, (None, len(members))))
    return lines


# ---------------------------------------------------------------------------------------------
# The parts


def _parts(series: _Series, line_of: np.ndarray, n_lines: int, days_a: int, days_b: int, *,
           whole_months: bool) -> np.ndarray:
    """(n_lines, len(PARTS)) float dollars: the split of each line's change (module docstring).

    ``whole_months``: both periods are made of whole calendar months (see ``charge_timing``).

    ``line_of`` gives each series' line: the drilled nodes, so that a line folded from several
    nodes has exactly the sum of their parts, whatever ``top_n`` folded.
    """
    if not len(line_of):
        return np.zeros((n_lines, len(PARTS)))
    # Price lines: a line's series grouped by everything but the resource.
    keys = [series.codes[c] for c in VARIANCE_KEYS if c in series.codes and c != SCOPE_COLUMNS["resource"]]
    ids = _group_ids(line_of, *keys)
    size = int(ids.max()) + 1
    line = np.zeros(size, dtype=np.int64)
    line[ids] = line_of
    representative = np.zeros(size, dtype=np.int64)
    representative[ids] = np.arange(len(ids))
    cost_a, cost_b = np.round(_sum_by(ids, series.cost_a, size), 6), np.round(_sum_by(ids, series.cost_b, size), 6)
    pq_a, pq_b = _sum_quantity_by(ids, series.pq_a, size), _sum_quantity_by(ids, series.pq_b, size)
    cq_a, cq_b = _sum_quantity_by(ids, series.cq_a, size), _sum_quantity_by(ids, series.cq_b, size)

    both = (cost_a != 0) & (cost_b != 0)
    # Fees are compared as totals: one "day" each (see "Parts of a contributor").
    fixed = series.flag("ChargeCategory", lambda category: category.casefold() in FIXED_CHARGE_CATEGORIES)
    fixed = fixed[representative]
    # A fee in one period only, when the periods are not whole months, fell on a day of one window.
    one_sided_fee = fixed & ~both & (not whole_months)
    timing = np.where(one_sided_fee, cost_a - cost_b, 0.0)
    new = np.where((cost_b == 0) & (cost_a != 0) & ~one_sided_fee, cost_a, 0.0)
    gone = np.where((cost_a == 0) & (cost_b != 0) & ~one_sided_fee, -cost_b, 0.0)
    length_a, length_b = np.where(fixed, 1.0, float(days_a)), np.where(fixed, 1.0, float(days_b))
    mid = (length_a + length_b) / 2
    daily_a, daily_b = cost_a / length_a, cost_b / length_b
    days = np.where(both, (length_a - length_b) * (daily_a + daily_b) / 2, 0.0)
    run_rate = np.where(both, mid * (daily_a - daily_b), 0.0)
    with np.errstate(invalid="ignore"):
        by_pricing = both & (pq_a > 0) & (pq_b > 0)
        by_consumed = both & ~by_pricing & (cq_a > 0) & (cq_b > 0)
    q_a = np.where(by_pricing, pq_a, np.where(by_consumed, cq_a, 1.0)) / length_a
    q_b = np.where(by_pricing, pq_b, np.where(by_consumed, cq_b, 1.0)) / length_b
    with np.errstate(over="ignore", divide="ignore"):
        p_a, p_b = daily_a / q_a, daily_b / q_b
    # A quantity so small that the unit price overflows says nothing about usage either.
    split = (by_pricing | by_consumed) & np.isfinite(p_a) & np.isfinite(p_b)
    by_pricing &= split
    with np.errstate(invalid="ignore", over="ignore"):
        usage_i = np.where(split, mid * (q_a - q_b) * (p_a + p_b) / 2, 0.0)
        rate = np.where(split, mid * (p_a - p_b) * (q_a + q_b) / 2, 0.0)
    unexplained = np.where(both & ~split, run_rate, 0.0)

    # Usage per unit of each line: volume at the average unit price; what is left of the price
    # lines' usage is the shift between them (mix).
    usage, mix = np.zeros(n_lines), np.zeros(n_lines)
    if split.any():
        # Fees and daily charges never share a unit group: their volumes are on different scales.
        unit = np.where(fixed, "f", "d").astype(object) + np.where(by_pricing, "p:" + series.text("PricingUnit")[representative],
                                                    "c:" + series.text("ConsumedUnit")[representative])
        # Volume moving between services that share a unit (EC2 hours to RDS hours) is not mix:
        # the services are different things, so each service's volume is its own group.
        service = series.text(SCOPE_COLUMNS["service"])[representative]
        groups = _group_ids(line[split], pd.factorize(service[split], sort=True)[0],
                            pd.factorize(unit[split], sort=True)[0])
        count = int(groups.max()) + 1
        group_line = np.zeros(count, dtype=np.int64)
        group_line[groups] = line[split]
        group_mid = np.zeros(count)
        group_mid[groups] = mid[split]
        volume_a, volume_b = _sum_by(groups, q_a[split], count), _sum_by(groups, q_b[split], count)
        price_a = _sum_by(groups, daily_a[split], count) / volume_a
        price_b = _sum_by(groups, daily_b[split], count) / volume_b
        usage_unit = group_mid * (volume_a - volume_b) * (price_a + price_b) / 2
        usage = _sum_by(group_line, usage_unit, n_lines)
        mix = _sum_by(group_line, _sum_by(groups, usage_i[split], count) - usage_unit, n_lines)
    return np.column_stack([usage, _sum_by(line, rate, n_lines), mix, _sum_by(line, days, n_lines),
                            _sum_by(line, new, n_lines), _sum_by(line, gone, n_lines), _sum_by(line, timing, n_lines),
                            _sum_by(line, unexplained, n_lines)])


def _round_parts(parts: Sequence[float], total: Decimal) -> list[Decimal]:
    """Cents that add up to ``total``; rounding ``-parts`` to ``-total`` gives the negated result.

    The float parts are within micro-dollars of ``total``, and a line's total moves by up to a cent
    or two when its A and B are rounded: that residual goes to the largest part (to
    ``unexplained_by_quantity`` when every part is 0). Then each part is rounded half-to-even and
    the missing cents go to the parts that lost the most, ties to the first.
    """
    micros = [to_micros(p) for p in parts]
    residual = int(total.scaleb(6)) - sum(micros)
    if residual:
        largest = max(range(len(micros)), key=lambda i: (abs(micros[i]), -i))
        micros[largest if micros[largest] else _UNEXPLAINED] += residual
    exact = [from_micros(m) for m in micros]
    rounded = [e.quantize(CENT, rounding=ROUND_HALF_EVEN) for e in exact]
    missing = int((total - sum(rounded, Decimal(0))) / CENT)
    remainders = [e - r for e, r in zip(exact, rounded, strict=True)]
    if missing > 0:
        for i in sorted(range(len(exact)), key=lambda i: (-remainders[i], i))[:missing]:
            rounded[i] += CENT
    elif missing < 0:
        for i in sorted(range(len(exact)), key=lambda i: (remainders[i], i))[:-missing]:
            rounded[i] -= CENT
    return rounded


def _whole_months(period: Period) -> bool:
    """True when ``period`` starts on a 1st and ends on the last day of a month."""
    return period.start.day == 1 and (period.end + timedelta(days=1)).day == 1


def _absorb_rounding(lines: Sequence[_Line], figures: list[list], exact: Sequence[tuple[int, int]],
                     total_a: Decimal, total_b: Decimal) -> None:
    """Give the cents by which the lines' rounded A and B miss the rounded totals to some lines.

    They go to the "other" line when there is one; else, one cent each, to the lines that
    rounding moved most (largest remainder of ``exact``, the lines' A and B in micro-dollars).
    The change those cents make goes to the part largest over the whole answer (on a tie, the
    one of the change's sign, then the first): it depends only on the drilled nodes, never on
    ``top_n``, so the overall split is the same however many lines are listed.
    """
    overall = [sum((f[2][k] for f in figures), Decimal(0)) for k in range(len(PARTS))]
    for side, total in ((0, total_a), (1, total_b)):
        missing = int((total - sum((f[side] for f in figures), Decimal(0))) / CENT)
        if not missing:
            continue
        other = next((i for i, line in enumerate(lines) if line.kind == "other"), None)
        if other is not None:
            takers = [(other, missing)]
        else:
            remainder = [from_micros(e[side]) - f[side] for e, f in zip(exact, figures, strict=True)]
            order = sorted(range(len(lines)), key=lambda i: (-remainder[i] if missing > 0 else remainder[i], i))
            takers = [(i, 1 if missing > 0 else -1) for i in order[:abs(missing)]]
        for line, count in takers:
            figures[line][side] += count * CENT
            change = count * CENT if side == 0 else -count * CENT
            part = min(range(len(PARTS)), key=lambda k: (-abs(overall[k]), overall[k] * change <= 0, k)) \
                if any(overall) else _UNEXPLAINED
            figures[line][2][part] += change


# ---------------------------------------------------------------------------------------------
# Explainers


def _fits(dimensions: Mapping[str, str], constraint: Mapping[str, Iterable[str]]) -> bool:
    """True when no key of both disagrees (case-insensitively)."""
    for key, value in dimensions.items():
        if key in constraint and value.casefold() not in {str(v).casefold() for v in constraint[key]}:
            return False
    return True


def explainer_in_scope(dimensions: Mapping[str, str], scope: Mapping[str, Iterable[str]]) -> bool:
    """True when ``dimensions`` (normalized explainer dimensions) show the explainer inside ``scope``.

    Every scope key must be among the dimensions with an accepted value (case-insensitively;
    ``account`` matches the account ID or ``account_name``; tag names case-insensitively). A key
    the explainer does not carry cannot be shown to fit, so it is left out: an anomaly of all of
    payments' services is not inside ``service="Amazon EC2"``, and explainers carry no tags, so a
    ``tag:`` question names none.
    """
    folded = {(k.casefold() if k.startswith(TAG_PREFIX) else k): str(v).casefold() for k, v in dimensions.items()}
    for key, values in scope.items():
        wanted = {str(v).casefold() for v in values}
        if key == "account":
            have = {folded[k] for k in ("account", "account_name") if k in folded}
        else:
            name = key.casefold() if key.startswith(TAG_PREFIX) else key
            have = {folded[name]} if name in folded else set()
        if not have & wanted:
            return False
    return True


def _overlap_days(start: date, end: date, period: Period) -> int:
    return max(0, (min(end, period.end) - max(start, period.start)).days + 1)


def _explained(explainers: Iterable[Explainer], question: Question, delta: Decimal) -> list[ExplainedItem]:
    a, b = question.period_a, question.period_b
    last = max(a.end, b.end)
    items = []
    for explainer in explainers:
        if not explainer_in_scope(explainer.normalized_dimensions(), question.scope):
            continue
        end = explainer.end or last
        span = (end - explainer.start).days + 1
        if span <= 0:
            continue
        days_a, days_b = _overlap_days(explainer.start, end, a), _overlap_days(explainer.start, end, b)
        if not days_a and not days_b:
            continue
        per_day = float(explainer.amount) / span
        in_a, in_b = cents(per_day * days_a), cents(per_day * days_b)
        amount = in_a - in_b
        share = float(amount / delta) if delta else None
        items.append(ExplainedItem(explainer, amount, in_a, in_b, share))
    return sorted(items, key=lambda item: (-abs(item.amount), str(item.explainer.id)))


def line_of(item: ExplainedItem, contributors: Sequence[Contributor]) -> int | None:
    """The index of the most specific line ``item`` fits (most dimensions in common, then the
    earlier, larger one); None when it fits none."""
    dims = item.explainer.normalized_dimensions()
    fitting = [i for i, c in enumerate(contributors) if _fits(dims, {k: (v,) for k, v in c.dimensions.items()})]
    if not fitting:
        return None
    return max(fitting, key=lambda i: (len(set(dims) & set(contributors[i].dimensions)), -i))


def explained_part(answer: VarianceAnswer, item: ExplainedItem) -> str | None:
    """What ``item`` is part of, in words: "of the increase" when it moved spend the way the
    total did; "of the decrease in search / Amazon OpenSearch" when it moved against the total but
    the way its own line did (a saving inside a quarter that rose); None otherwise."""
    if not item.amount:
        return None
    if answer.delta and item.amount * answer.delta > 0:
        return f"of the {'increase' if answer.delta > 0 else 'decrease'}"
    target = line_of(item, answer.contributors)
    if target is None:
        return None
    line = answer.contributors[target]
    if line.kind == "other" or line.delta * item.amount <= 0:
        return None
    return f"of the {'increase' if line.delta > 0 else 'decrease'} in {line.label}"


def _explained_share(contributors: Sequence[Contributor], items: Sequence[ExplainedItem]) -> float:
    """See "Explainers and explained_share" in the module docstring."""
    gross = sum((abs(v) for c in contributors for v in c.parts().values()), Decimal(0))
    if not gross:
        return 1.0
    # The unknown movement of each line, up (index 0) and down (index 1) apart.
    unknown = [[sum((v for v in values if v > 0), Decimal(0)), sum((-v for v in values if v < 0), Decimal(0))]
               for values in (list(c.parts().values()) if c.kind == "other" else [c.unexplained_by_quantity]
                              for c in contributors)]
    for item in items:
        target = line_of(item, contributors)
        if not item.amount or target is None:
            continue
        side = 0 if item.amount > 0 else 1
        unknown[target][side] -= min(unknown[target][side], abs(item.amount))
    return round(float(1 - sum((up + down for up, down in unknown), Decimal(0)) / gross), 4)


# ---------------------------------------------------------------------------------------------
# The answer


def explain_variance(frame: pd.DataFrame, question: Question, *, explainers: Iterable[Explainer] = (),
                     top_n: int = DEFAULT_TOP_N) -> VarianceAnswer:
    """Explain the change of spend from ``question.period_b`` to ``question.period_a``.

    ``frame`` is a daily cost frame or a pre-aggregated one (with a ``period`` column); see the
    module docstring for both shapes, the method, and what ``explained_share`` measures.
    ``top_n`` caps the contributor lines before the "other" line.
    """
    if top_n < 1:
        raise ValueError("top_n must be at least 1")
    if PERIOD in frame:
        rows = frame  # already inside the scope (module docstring, "Scope")
    else:
        needed = [c for c in (DAY, *VARIANCE_KEYS, metric_column(question.metric), *QUANTITIES) if c in frame]
        rows = _labelled_periods(filter_scope(frame, question.scope)[needed], question)
    series = _series(rows, question.metric)
    cost_a, cost_b = series.cost_a, series.cost_b

    codes = {key: series.codes[column] for key, column in DRILL_COLUMNS.items() if column in series.codes}
    uniques = {key: series.uniques[column] for key, column in DRILL_COLUMNS.items() if column in series.codes}
    nodes = _drill(codes, uniques, cost_a - cost_b) if len(cost_a) else []

    node_of = np.zeros(len(cost_a), dtype=np.int64)
    for i, node in enumerate(nodes):
        node_of[node.rows] = i
    # Every figure is first rounded per drilled node (see "Rounding" in the module docstring).
    a_micros = [to_micros(cost_a[node.rows].sum()) for node in nodes]
    b_micros = [to_micros(cost_b[node.rows].sum()) for node in nodes]
    node_a, node_b = [cents(from_micros(m)) for m in a_micros], [cents(from_micros(m)) for m in b_micros]
    node_parts = [_round_parts(values.tolist(), a - b) for values, a, b in
                  zip(_parts(series, node_of, len(nodes), question.period_a.days, question.period_b.days,
                             whole_months=_whole_months(question.period_a) and _whole_months(question.period_b)),
                      node_a, node_b, strict=True)]
    total_a, total_b = cents(from_micros(sum(a_micros))), cents(from_micros(sum(b_micros)))
    lines = _lines(nodes, np.array([float(a - b) for a, b in zip(node_a, node_b, strict=True)]), codes, uniques,
                   top_n)
    figures = [[sum((node_a[m] for m in line.members), Decimal("0.00")),
                sum((node_b[m] for m in line.members), Decimal("0.00")),
                [sum((node_parts[m][k] for m in line.members), Decimal("0.00")) for k in range(len(PARTS))]]
               for line in lines]
    if lines:
        exact = [(sum(a_micros[m] for m in line.members), sum(b_micros[m] for m in line.members)) for line in lines]
        _absorb_rounding(lines, figures, exact, total_a, total_b)
    contributors = [Contributor(label=line.label, kind=line.kind, dimensions=line.dimensions, covers=line.covers,
                                a=a, b=b, delta=a - b, **dict(zip(PARTS, parts, strict=True)),
                                rest_values=line.rest_values)
                    for line, (a, b, parts) in zip(lines, figures, strict=True)]

    delta = total_a - total_b
    delta_pct = round(float(delta / abs(total_b) * 100), 2) if total_b else None
    items = _explained(explainers, question, delta)
    return VarianceAnswer(question=question, total_a=total_a, total_b=total_b, delta=delta, delta_pct=delta_pct,
                          contributors=tuple(contributors), explained_by=tuple(items),
                          explained_share=_explained_share(contributors, items), note=question.note)


# ---------------------------------------------------------------------------------------------
# Words


def _parts_text(contributor: Contributor) -> str:
    parts = [(name, value) for name, value in contributor.parts().items() if value]
    parts.sort(key=lambda item: -abs(item[1]))
    return ", ".join(f"{part_word(name, value)} {format_usd(value, signed=True)}" for name, value in parts)


def _explainer_name(explainer: Explainer) -> str:
    ident = f"#{explainer.id}" if str(explainer.id).isdigit() else str(explainer.id)
    return f"{explainer.kind} {ident} ({explainer.state})"


def summary_lines(answer: VarianceAnswer, *, contributors: int = 3) -> list[str]:
    """A short plain-language answer, one sentence per line, for Slack and the terminal.

    The change and its totals; the day-count effect when it is at least a tenth of the change
    ("Mostly day count" when it is at least half); the ``contributors`` largest lines with their
    split; the anomalies and findings with their $; the note on incomplete data.
    """
    q = answer.question
    subject = {"effective": "Spend", "billed": "Billed spend", "list": "Spend at list prices"}.get(q.metric, "Spend")
    scope = scope_phrase(q.scope)
    if scope:
        subject += f" for {scope}"
    a, b, delta = q.period_a, q.period_b, answer.delta
    if delta:
        verb = f"rose {format_usd(delta)}" if delta > 0 else f"fell {format_usd(-delta)}"
        if answer.delta_pct is not None:
            verb += f" ({answer.delta_pct:+.1f} %)"
    else:
        verb = "did not change"
    lines = [f"{subject} {verb} from {b.label} to {a.label} ({format_usd(answer.total_b)} -> "
             f"{format_usd(answer.total_a)})."]
    days = answer.days_effect
    if delta and days and abs(days) * 10 >= abs(delta):
        mostly = "Mostly day count" if days * delta > 0 and abs(days) * 2 >= abs(delta) else "Day count"
        lines.append(f"{mostly}: {a.label} has {a.days} days and {b.label} {b.days}; at the same daily spend "
                     f"that is {format_usd(days, signed=True)}.")
    moving = [c for c in answer.contributors if c.delta]
    for c in moving[:contributors]:
        split = _parts_text(c)
        lines.append(f"{c.label}: {format_usd(c.delta, signed=True)}" + (f" ({split})" if split else ""))
    if len(moving) > contributors:
        rest = sum((c.delta for c in moving[contributors:]), Decimal(0))
        more = len(moving) - contributors
        lines.append(f"{more} more line{'s' if more != 1 else ''}: {format_usd(rest, signed=True)}")
    for item in answer.explained_by:
        if not item.amount:
            continue
        name = _explainer_name(item.explainer)
        part = explained_part(answer, item)
        if part is not None:
            lines.append(f"{format_usd(abs(item.amount))} {part} is {name}: {item.explainer.label}.")
        else:
            lines.append(f"{name} moved spend by {format_usd(item.amount, signed=True)}: {item.explainer.label}.")
    if answer.note:
        lines.append(answer.note)
    return lines

