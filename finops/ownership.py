"""Who owns every dollar: allocation by teams.yml rules, shared-cost pools, and coverage.

The flow is ``allocate_costs`` (one owner per row, or a pool, or ``unallocated``), then
``split_shared_costs`` (pool rows become one row per team), then the coverage measures.

Precedence, when several rules match a row (docs/teams.md, "Precedence"):

1. the most specific *kind* of rule wins: resource_id > tag > sub_account_id >
   billing_account_id > provider / service / region / sku_id (a rule's kind is its most
   specific field);
2. between rules of the same kind, the one with more fields wins;
3. on a tie, a team's rule wins over a shared pool's, then the team (or pool) listed first.

Matching runs once per unique combination of the columns the rules read, not per row: a daily
frame of millions of rows has a few thousand series, so the cost is a few factorizations.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from finops.model import (
    ALLOCATION_RULE,
    DAY,
    DEFAULT_METRIC,
    MONEY,
    QUANTITIES,
    TEAM,
    UNALLOCATED,
    metric_column,
)
from finops.money import MICROS, from_micros
from finops.teams import Condition, MatchRule, SharedCostPool, TeamsConfig

SHARED_RULE_PREFIX = "shared pool "
CHARGE_CATEGORY = "ChargeCategory"

# Charge categories that can carry tags. Tax, fees, credits and adjustments are billed without
# resource tags on every provider, so counting them would hold tag coverage below 100 % forever.
TAGGABLE_CHARGE_CATEGORIES = ("Usage", "")

PERIODS: dict[str, str] = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


# ---------------------------------------------------------------------------------------------
# Allocation


@dataclass(frozen=True)
class _Candidate:
    """A rule that may own a row: a team's (pool is None) or a shared pool's."""

    owner: str
    pool: SharedCostPool | None
    rule: MatchRule
    label: str


def _candidates(config: TeamsConfig) -> list[_Candidate]:
    """Every rule of the file, in precedence order (the first match wins)."""
    file = Path(config.file).name
    ranked: list[tuple[tuple[int, int, int, int, int], _Candidate]] = []
    for order, team in enumerate(config.teams):
        for rule_order, rule in enumerate(team.match):
            label = f"{team.name}: {rule.describe()} ({file} line {rule.line})"
            rank, fields = rule.precedence
            ranked.append(((-rank, -fields, 0, order, rule_order), _Candidate(team.name, None, rule, label)))
    for order, pool in enumerate(config.shared_costs):
        for rule_order, rule in enumerate(pool.match):
            label = _pool_label(pool, rule, file)
            rank, fields = rule.precedence
            ranked.append(((-rank, -fields, 1, order, rule_order), _Candidate(pool.name, pool, rule, label)))
    ranked.sort(key=lambda pair: pair[0])
    return [candidate for _, candidate in ranked]


def allocate_costs(frame: pd.DataFrame, config: TeamsConfig) -> pd.DataFrame:
    """Fill ``x_Team`` and ``x_AllocationRule`` for every row, by the rules of ``config``.

    ``x_AllocationRule`` says which rule won, e.g. ``payments: tag team=payments (teams.yml line 7)``.
    Rows no rule matches get ``unallocated`` and "". Rows a shared pool wins stay ``unallocated``
    with a ``shared pool <name> (not split): ...`` rule until :func:`split_shared_costs` runs.
    Only the columns the rules use are read, so any frame with those columns works (a daily
    frame, or one row per series). The input is not modified.
    """
    candidates = _candidates(config)
    owners = np.array([c.owner if c.pool is None else UNALLOCATED for c in candidates] + [UNALLOCATED],
                      dtype=object)
    labels = np.array([c.label for c in candidates] + [""], dtype=object)
    winner = _winning_candidates(frame, candidates)
    pick = np.where(winner >= 0, winner, len(candidates))
    return frame.assign(**{
        TEAM: pd.Series(owners[pick], index=frame.index, dtype=object),
        ALLOCATION_RULE: pd.Series(labels[pick], index=frame.index, dtype=object),
    })


def allocation_fingerprint(config: TeamsConfig) -> str:
    """A digest of everything :func:`allocate_costs` reads from ``config``: the rules in precedence
    order, their owners and the labels they write (which carry the file name and line).

    Two configs with the same fingerprint allocate every row alike, so owners stored under one
    stay right under the other; budgets, channels or people changing leave it as it is.
    """
    described = [[c.owner, c.pool is not None, c.label,
                  [[cond.field, cond.tag_key, list(cond.values)] for cond in c.rule.conditions]]
                 for c in _candidates(config)]
    return hashlib.sha256(json.dumps(described, separators=(",", ":")).encode()).hexdigest()


def _winning_candidates(frame: pd.DataFrame, candidates: Sequence[_Candidate]) -> np.ndarray:
    """Index of the winning candidate per row, -1 where none matches."""
    if not candidates or frame.empty:
        return np.full(len(frame), -1, dtype=np.int64)
    columns = list(dict.fromkeys(c.column for cand in candidates for c in cand.rule.conditions))
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"the cost frame lacks the column(s) the rules read: {', '.join(missing)}")
    row_combo, combo_codes, uniques = _combinations(frame, columns)
    n_combos = len(next(iter(combo_codes.values())))
    winner = np.full(n_combos, -1, dtype=np.int64)
    hits_cache: dict[tuple[str, str, tuple[str, ...]], np.ndarray] = {}
    for i, candidate in enumerate(candidates):
        open_combos = winner < 0
        if not open_combos.any():
            break
        hit = open_combos
        for condition in candidate.rule.conditions:
            key = (condition.field, condition.tag_key.casefold(), condition.values)
            if key not in hits_cache:
                hits_cache[key] = _unique_hits(condition, uniques[condition.column])
            hit = hit & hits_cache[key][combo_codes[condition.column]]
        winner[hit] = i
    return winner[row_combo]


def _combinations(frame: pd.DataFrame,
                  columns: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, list[object]]]:
    """Factorize the rule columns.

    Returns the combination code of each row, and per column: the code of each combination's
    value and the list of unique values.
    """
    row_codes: dict[str, np.ndarray] = {}
    uniques: dict[str, list[object]] = {}
    combo = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        row_codes[column], uniques[column] = _factorize_strings(frame[column])
        # Re-factorizing keeps the combined code below the row count, so it never overflows.
        combo, _ = pd.factorize(combo * len(uniques[column]) + row_codes[column])
    # Factorize numbers combinations by first appearance: a row whose code exceeds every earlier
    # code is the first of its combination.
    running_max = np.maximum.accumulate(combo)
    first = np.flatnonzero(np.r_[True, running_max[1:] > running_max[:-1]])
    return combo, {column: codes[first] for column, codes in row_codes.items()}, uniques


def _factorize_strings(values: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Codes and unique values; a NaN (the model says "", but it must never drop a row) becomes ""."""
    codes, uniques = pd.factorize(values)
    found = list(uniques)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(found), codes)
        found.append("")
    return codes, found


def _value_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Case-insensitive test for 'equals one of the patterns'; ``*`` in a pattern matches any text."""
    exact = {p.casefold() for p in patterns if "*" not in p}
    globs = [p.casefold() for p in patterns if "*" in p]
    if not globs:
        return exact.__contains__
    regex = re.compile("|".join(".*".join(map(re.escape, g.split("*"))) for g in globs), re.DOTALL)
    return lambda value: value in exact or regex.fullmatch(value) is not None


def _unique_hits(condition: Condition, values: list[object]) -> np.ndarray:
    """Whether each unique column value satisfies the condition."""
    matches = _value_matcher(condition.values)
    if condition.field != "tag":
        return np.fromiter((matches(str(v).casefold()) for v in values), dtype=bool, count=len(values))
    key = condition.tag_key.casefold()
    return np.fromiter((any(matches(v) for v in _folded_tags(str(text)).get(key, ())) for text in values),
                       dtype=bool, count=len(values))


def _folded_tags(text: str) -> dict[str, list[str]]:
    """Tag key -> values, case-folded; a row may spell one key several ways (Team, team)."""
    folded: dict[str, list[str]] = {}
    for key, value in _parse_tags(text).items():
        folded.setdefault(str(key).casefold(), []).append(str(value).casefold())
    return folded


def _parse_tags(text: str) -> dict[str, object]:
    if not text:
        return {}
    try:
        tags = json.loads(text)
    except ValueError:
        raise ValueError(f"Tags value is not JSON: {text[:80]!r}") from None
    if not isinstance(tags, dict):
        raise ValueError(f"Tags value is not a JSON object: {text[:80]!r}")
    return tags


# ---------------------------------------------------------------------------------------------
# Shared-cost pools


def split_shared_costs(frame: pd.DataFrame, config: TeamsConfig) -> pd.DataFrame:
    """Replace each row a shared pool won (see :func:`allocate_costs`) by one row per pool team.

    - ``proportional``: by each team's direct usage (``EffectiveCost`` of ``Usage`` rows allocated
      to it by its own rules, negatives counted as 0) on the same day, so a fee or purchase booked
      that day does not buy a larger share; on a day without usage, by all direct charges. Per day, not per month, so a day's
      split depends only on that day's rows: re-ingesting any range of days gives the same split
      whatever the batch boundaries. A day on which none of the pool's teams has direct spend is
      split evenly, and its rule says so.
    - ``even``: equal parts; ``fixed``: by the configured percentages.

    Money is split exactly: each money column of a row is taken in integer micro-units and
    divided by the largest-remainder method (ties go to the team listed first), so the parts sum
    back to the row to the micro. Quantities are split in the same proportions. Each part's
    ``x_AllocationRule`` reads ``shared pool <name>: <split>, matched <rule> (<file> line N)``.
    Requires a frame that went through :func:`allocate_costs`. Returns a new frame (fresh index):
    the other rows in their order, then the parts.
    """
    if frame.empty or not config.shared_costs:
        return frame
    if frame[TEAM].eq("").any():
        raise ValueError("split_shared_costs needs an allocated frame: run allocate_costs first")
    file = Path(config.file).name
    # The rule allocate_costs wrote tells which pool (and which of its rules) took a row.
    by_label = {_pool_label(pool, rule, file): (index, rule)
                for index, pool in enumerate(config.shared_costs) for rule in pool.match}
    rule_codes, rule_uniques = pd.factorize(frame[ALLOCATION_RULE])
    found = [by_label.get(label) for label in rule_uniques]
    row_pool = np.array([-1 if f is None else f[0] for f in found], dtype=np.int64)[rule_codes]
    pooled = row_pool >= 0
    if not pooled.any():
        return frame
    split_labels, fallback_labels = (
        np.array(["" if f is None else _split_label(config.shared_costs[f[0]], f[1], file, fallback=fallback)
                  for f in found], dtype=object)
        for fallback in (False, True))

    basis = _direct_spend_by_day(frame, config) if any(p.split == "proportional" for p in config.shared_costs) else None
    pieces: list[pd.DataFrame] = []
    for index, pool in enumerate(config.shared_costs):
        rows = np.flatnonzero(row_pool == index)
        if len(rows) == 0:
            continue
        weights, fell_back = _pool_weights(pool, frame[DAY].to_numpy()[rows], basis)
        row_labels = np.where(fell_back, fallback_labels[rule_codes[rows]], split_labels[rule_codes[rows]])
        pieces.append(_split_rows(frame, rows, pool.teams, weights, row_labels))

    return pd.concat([frame[~pooled], *pieces], ignore_index=True)


def _pool_label(pool: SharedCostPool, rule: MatchRule, file: str) -> str:
    """The rule of a row a pool took, before it is split."""
    return f"{SHARED_RULE_PREFIX}{pool.name} (not split): {rule.describe()} ({file} line {rule.line})"


def _split_label(pool: SharedCostPool, rule: MatchRule, file: str, *, fallback: bool = False) -> str:
    split = "even (no direct spend that day)" if fallback else pool.split
    return f"{SHARED_RULE_PREFIX}{pool.name}: {split}, matched {rule.describe()} ({file} line {rule.line})"


def _direct_spend_by_day(frame: pd.DataFrame, config: TeamsConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Day x team tables of direct EffectiveCost (team rules only, not shared parts): of usage,
    and of every charge (the fallback on a day without usage)."""
    if CHARGE_CATEGORY not in frame:
        # Every caller passes it: a split without it would differ from theirs (one number, one split).
        raise ValueError("split_shared_costs needs the ChargeCategory column for a proportional split")
    direct = frame[frame[TEAM].isin(config.team_names) & ~_is_shared_rule(frame[ALLOCATION_RULE])]

    def by_day(rows: pd.DataFrame) -> pd.DataFrame:
        table = rows.groupby([DAY, TEAM], sort=False)["EffectiveCost"].sum().unstack(fill_value=0.0)
        return table.reindex(columns=list(config.team_names), fill_value=0.0).clip(lower=0.0)

    return by_day(direct[direct[CHARGE_CATEGORY].astype(str) == "Usage"]), by_day(direct)


def _pool_weights(pool: SharedCostPool, days: np.ndarray,
                  basis: tuple[pd.DataFrame, pd.DataFrame] | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows x teams) weights summing to 1 per row, and which rows fell back to an even split."""
    n, k = len(days), len(pool.teams)
    even = np.full((n, k), 1.0 / k)
    if pool.split == "even":
        return even, np.zeros(n, dtype=bool)
    if pool.split == "fixed":
        percent = dict(pool.percentages)
        return np.tile([percent[t] / 100.0 for t in pool.teams], (n, 1)), np.zeros(n, dtype=bool)
    assert basis is not None

    def spend_of(table: pd.DataFrame) -> np.ndarray:
        return (table.reindex(index=pd.DatetimeIndex(days), columns=list(pool.teams), fill_value=0.0)
                .fillna(0.0).to_numpy(dtype=np.float64))

    usage, every_charge = (spend_of(table) for table in basis)
    # Usage decides: a team's fee or purchase booked on the pool's day is not a larger share of
    # the shared service; a day none of the teams used anything falls back to all their charges.
    spend_values = np.where((usage.sum(axis=1) > 0)[:, None], usage, every_charge)
    total = spend_values.sum(axis=1)
    fell_back = ~(total > 0)
    weights = np.where(fell_back[:, None], even, spend_values / np.where(fell_back, 1.0, total)[:, None])
    return weights, fell_back


def split_micros(amounts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each amount (dollars) by its row of ``weights`` into integer micro-units.

    Largest remainder: every part is rounded down, then the micro-units still missing go to the
    parts that lost the most (ties: the earlier column). Each row of the result sums exactly to
    the amount in micro-units; a zero weight always gets 0. Negative amounts split like positive
    ones, with the sign put back.
    """
    micros = np.rint(np.asarray(amounts, dtype=np.float64) * MICROS).astype(np.int64)
    sign, whole = np.sign(micros), np.abs(micros)
    exact = whole[:, None] * weights
    parts = np.floor(exact).astype(np.int64)
    remainder = exact - parts
    missing = whole - parts.sum(axis=1)
    positive = weights > 0
    # Float products can overshoot by one; then the parts with the smallest remainder give back.
    for direction, count in ((1, np.clip(missing, 0, None)), (-1, np.clip(-missing, 0, None))):
        if not count.any():
            continue
        key = np.where(positive, -remainder if direction > 0 else remainder, np.inf)
        rank = np.argsort(np.argsort(key, axis=1, kind="stable"), axis=1, kind="stable")
        parts += direction * (rank < count[:, None])
    return parts * sign[:, None]


def _split_rows(frame: pd.DataFrame, rows: np.ndarray, teams: Sequence[str], weights: np.ndarray,
                labels: np.ndarray) -> pd.DataFrame:
    """One row per (pooled row, team with a positive weight)."""
    k = len(teams)
    keep = (weights > 0).ravel()
    parts = frame.iloc[np.repeat(rows, k)[keep]].reset_index(drop=True)
    parts[TEAM] = pd.Series(np.tile(np.array(teams, dtype=object), len(rows))[keep], dtype=object)
    parts[ALLOCATION_RULE] = pd.Series(np.repeat(labels, k)[keep], dtype=object)
    for column in MONEY:
        if column in frame:
            parts[column] = split_micros(frame[column].to_numpy()[rows], weights).ravel()[keep] / MICROS
    for column in QUANTITIES:
        if column in frame:
            quantity = frame[column].to_numpy(dtype=np.float64)[rows]
            parts[column] = (quantity[:, None] * weights).ravel()[keep]
    return parts


# ---------------------------------------------------------------------------------------------
# Coverage


@dataclass(frozen=True)
class Coverage:
    """Attribution coverage: how much spend has an owner. Amounts are exact (micro-dollar sums).

    ``period`` is the period's label ("" for the whole frame); ``by_period`` holds one Coverage
    per period when asked for.
    """

    total: Decimal
    allocated_direct: Decimal
    allocated_shared: Decimal
    unallocated: Decimal
    period: str = ""
    by_period: tuple[Coverage, ...] = ()

    @property
    def allocated(self) -> Decimal:
        """Direct plus shared-pool allocations."""
        return self.allocated_direct + self.allocated_shared

    @property
    def share(self) -> float | None:
        """Allocated / total; None when there is no spend to measure."""
        return float(self.allocated / self.total) if self.total else None


def _is_shared_rule(rules: pd.Series) -> np.ndarray:
    """Whether each row's rule is a shared-pool split (tested once per distinct rule)."""
    codes, uniques = _factorize_strings(rules)
    return np.array([str(rule).startswith(SHARED_RULE_PREFIX) for rule in uniques], dtype=bool)[codes]


def _micros(values: pd.Series) -> np.ndarray:
    return np.rint(values.to_numpy(dtype=np.float64) * MICROS).astype(np.int64)


def period_labels(frame: pd.DataFrame, period: str) -> pd.Series:
    """A label per row: ``period`` is day, week, month, quarter or year, or an existing column."""
    if period in frame:
        return frame[period].astype(str)
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}: use {', '.join(PERIODS)} or a column of the frame")
    # Label each distinct day once: formatting a period per row is slow on millions of rows.
    codes, days = pd.factorize(frame[DAY])
    labels = pd.DatetimeIndex(days).to_period(PERIODS[period]).astype(str).to_numpy(dtype=object)
    return pd.Series(labels[codes], index=frame.index, dtype=object)


def attribution_coverage(frame: pd.DataFrame, *, period: str | None = None,
                         metric: str = DEFAULT_METRIC) -> Coverage:
    """Total, directly allocated, shared-pool allocated and unallocated spend, and the share.

    With ``period`` (see :func:`period_labels`), ``by_period`` has one entry per period in
    chronological order. Rows with no team or ``unallocated`` count as unallocated (so do pool
    rows not split yet); rows whose rule starts with ``shared pool `` count as shared.
    """
    micros = _micros(frame[metric_column(metric)])
    team = frame[TEAM].to_numpy(dtype=object)
    unallocated = (team == UNALLOCATED) | (team == "")
    shared = ~unallocated & _is_shared_rule(frame[ALLOCATION_RULE])
    kinds = pd.DataFrame({
        "direct": np.where(~unallocated & ~shared, micros, 0),
        "shared": np.where(shared, micros, 0),
        "unallocated": np.where(unallocated, micros, 0),
    })

    def coverage(sums: pd.Series, label: str = "") -> Coverage:
        direct, shared_sum, rest = (from_micros(int(sums[k])) for k in ("direct", "shared", "unallocated"))
        return Coverage(direct + shared_sum + rest, direct, shared_sum, rest, period=label)

    whole = coverage(kinds.sum())
    if period is None:
        return whole
    per_period = kinds.groupby(period_labels(frame, period).to_numpy(), sort=True).sum()
    return Coverage(whole.total, whole.allocated_direct, whole.allocated_shared, whole.unallocated,
                    by_period=tuple(coverage(row, str(label)) for label, row in per_period.iterrows()))


def _taggable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["ChargeCategory"].isin(TAGGABLE_CHARGE_CATEGORIES)]


def _missing_tags_by_unique(tags: pd.Series, mandatory_tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row codes into unique Tags values, and a (unique x mandatory tag) 'missing' matrix.

    A tag is carried when its key is present (case-insensitively) with a non-empty value.
    """
    codes, uniques = _factorize_strings(tags)
    wanted = [t.casefold() for t in mandatory_tags]
    missing = np.ones((len(uniques), len(wanted)), dtype=bool)
    for i, text in enumerate(uniques):
        carried = {str(k).casefold() for k, v in _parse_tags(str(text)).items() if v not in (None, "")}
        missing[i] = [w not in carried for w in wanted]
    return codes, missing


def tag_coverage(frame: pd.DataFrame, mandatory_tags: Sequence[str], *,
                 metric: str = DEFAULT_METRIC) -> dict[str, float | None]:
    """Per mandatory tag, the share of taggable spend (Usage rows) that carries it.

    None when there is no taggable spend. Tag keys compare case-insensitively.
    """
    taggable = _taggable(frame)
    micros = _micros(taggable[metric_column(metric)])
    total = int(micros.sum())
    codes, missing = _missing_tags_by_unique(taggable["Tags"], mandatory_tags)
    result: dict[str, float | None] = {}
    for i, tag in enumerate(mandatory_tags):
        carried = int(micros[~missing[codes, i]].sum()) if len(codes) else 0
        result[tag] = carried / total if total else None
    return result


DRIVER_KEYS = ("ProviderName", "SubAccountId", "ServiceName", "ResourceId")
DRIVER_COLUMNS = (*DRIVER_KEYS, TEAM, "cost", "missing_tags")


def untagged_cost_drivers(frame: pd.DataFrame, mandatory_tags: Sequence[str], n: int = 20, *,
                          metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """The ``n`` series (provider, account, service, resource) with the most spend missing a mandatory tag.

    Columns: ProviderName, SubAccountId, ServiceName, ResourceId, x_Team (the owners of that
    spend, comma-separated), cost (dollars, summed in micro-units), missing_tags (comma-separated
    in the order of ``mandatory_tags``, over all the series' untagged rows). Only taggable
    (Usage) rows count. Biggest cost first, ties in key order.
    """
    taggable = _taggable(frame)
    codes, missing = _missing_tags_by_unique(taggable["Tags"], mandatory_tags)
    row_missing = missing[codes]
    untagged = row_missing.any(axis=1)
    if not untagged.any():
        return pd.DataFrame({c: pd.Series(dtype=np.float64 if c == "cost" else object) for c in DRIVER_COLUMNS})
    rows = taggable[untagged]
    series = rows.groupby(list(DRIVER_KEYS), sort=False).ngroup().to_numpy()  # one pass over the keys
    flags = pd.DataFrame(row_missing[untagged], columns=[f"missing_{i}" for i in range(len(mandatory_tags))])
    by_series = flags.assign(micros=_micros(rows[metric_column(metric)]), series=series).groupby("series").agg(
        {"micros": "sum", **{column: "any" for column in flags.columns}})
    # ngroup numbers series by first appearance, so each series' first row gives its key values.
    first_rows = np.flatnonzero(np.r_[True, np.diff(np.maximum.accumulate(series)) > 0])
    by_series = pd.concat([rows[list(DRIVER_KEYS)].iloc[first_rows].reset_index(drop=True), by_series], axis=1)
    top = by_series.sort_values(["micros", *DRIVER_KEYS], ascending=[False, *[True] * len(DRIVER_KEYS)],
                                kind="stable").head(n)
    in_top = np.isin(series, top.index.to_numpy())
    owners = (pd.Series(rows[TEAM].to_numpy()[in_top], dtype=object).groupby(series[in_top])
              .agg(lambda teams: ", ".join(sorted(set(teams)))))
    return pd.DataFrame({
        **{key: top[key].astype(object).to_numpy() for key in DRIVER_KEYS},
        TEAM: owners.loc[top.index].to_numpy(dtype=object),
        "cost": top["micros"].to_numpy() / MICROS,
        "missing_tags": np.array([", ".join(tag for i, tag in enumerate(mandatory_tags) if row[f"missing_{i}"])
                                  for _, row in top.iterrows()], dtype=object),
    })
