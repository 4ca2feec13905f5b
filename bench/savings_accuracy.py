"""Accuracy of savings verification on synthetic scopes whose true saving is known.

Each seed is one org: a control series (the rest of the org) and a few hundred scopes. Every
scope has its own level ($20-$5,000/day), weekly pattern (weekend dip 0-40 % plus per-day
jitter), trend (-4 % .. +6 % a month), and multiplicative AR(1) noise (sigma 1-5 % a day,
lag-1 correlation 0-0.5). Something happens to the rest of the org on one day, and each scope's
implementation day falls within 10 days of it (the same day in 1 of 21). What happens (the
``org`` column), for each scope:

- shared (50 %): an org-wide change of +8 % or -8 % (alternating by seed), a price change or a
  traffic shift, hits the control and the scope alike;
- elsewhere (25 %): the same change hits the rest of the org only (another team's launch);
- other finding (25 %): another finding's saving cuts the rest of the org by 3-15 %; the scope
  does not move.

The adversarial case (``--traffic-share``, default 20 % of scopes, taken from the three above in
proportion): ``traffic``, the scope shares the org's daily traffic (a 3 % a day common factor in
its cost and in three quarters of the control's), and another team, the control's other quarter,
steps by -60 % .. +100 % on a day within 3 days of the implementation day (the same day in 1 of
7). The scope's day-to-day moves then follow the control's closely while the control's step is
none of the scope's: following the control's daily moves verified unchanged scopes here.

Kinds of scope:
- changed (60 %): on the implementation day the cost steps down by 5-60 % of the scope's spend,
  half as a rate cut (rightsizing, a discount: every day's cost × (1 − s)) and half as a
  removed flat item (an idle resource deleted: a fixed $/day that had no weekly pattern);
- unchanged (20 %): a finding was filed and estimated, nothing happened;
- rolled back (20 %): the step, undone a week later.

Truth = the noise-free counterfactual minus the noise-free actual, averaged over the after window.
Each finding's estimate is the planned saving × U(0.85, 1.15) (estimates are imperfect).

Compared, in the same run: ``verify_saving`` (trend, weekday factors, the control's steps as far
as the scope is measured to step with them, significance, hold and cautious-reading gates), the
same without the control, the same with the control's daily cost applied in proportion
(elasticity fixed at 1: the scope assumed to move with the whole org, as costbot did at first),
and the naive before/after comparison (mean of the after window − mean of the baseline window,
verified when ≥ 80 % of the estimate). Then the monthly
re-check, 60 days after the after window: kept changes should not regress, rolled-back ones
should. The full run exits 1 when ``ours`` misses a target (--smoke: 0 unless it crashes).

usage: .venv/bin/python bench/savings_accuracy.py [--smoke] [--seeds N] [--scopes N]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from finops.savings import FindingState
from finops.verification import DAYS_PER_MONTH, recheck_verified, verify_saving

ORG_CHANGE_DAY = pd.Timestamp("2026-04-01")
HISTORY = pd.date_range(ORG_CHANGE_DAY - pd.Timedelta(days=80), ORG_CHANGE_DAY + pd.Timedelta(days=110))
SETTLE, BASELINE, SHARE = 14, 28, 0.8
RECHECK_AFTER = 60  # days after the after window's end


@dataclass
class Scope:
    kind: str  # changed | unchanged | rolled_back
    step: float  # planned share of spend saved
    implemented_on: date
    estimate_monthly: float
    observed: pd.Series
    truth_monthly: float  # over the after window
    recheck_truth_monthly: float  # over the re-check window
    sigma: float  # daily noise
    trend: float  # per month
    org: str  # shared | elsewhere | other_finding
    org_offset: int  # days from the implementation day to the org's change
    control: pd.Series


def _weekly_pattern(rng: np.random.Generator) -> np.ndarray:
    pattern = np.ones(7)
    pattern[5:] -= rng.uniform(0.0, 0.4)
    pattern *= 1 + rng.uniform(-0.05, 0.05, 7)
    return pattern / pattern.mean()


def _noise(rng: np.random.Generator, n: int, sigma: float, rho: float) -> np.ndarray:
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - rho ** 2), n)
    log_noise = np.empty(n)
    log_noise[0] = rng.normal(0.0, sigma)
    for i in range(1, n):
        log_noise[i] = rho * log_noise[i - 1] + shocks[i]
    return np.exp(log_noise)


def _org(rng: np.random.Generator, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rest of the org before its change, the org-wide change factor per day, and the org's
    daily traffic (a common factor only ``traffic`` scopes share)."""
    change = 0.08 if seed % 2 == 0 else -0.08
    org_factor = np.where(HISTORY >= ORG_CHANGE_DAY, 1 + change, 1.0)
    t = np.arange(len(HISTORY))
    trend = np.exp(rng.uniform(-0.02, 0.04) / DAYS_PER_MONTH * t)
    rest = 50_000 * trend * _weekly_pattern(rng)[HISTORY.day_of_week] * _noise(rng, len(t), 0.005, 0.3)
    traffic = _noise(rng, len(t), 0.03, 0.2)
    return rest, org_factor, traffic


def _window_mean(values: np.ndarray, start: pd.Timestamp, days: int) -> float:
    mask = (HISTORY >= start) & (HISTORY < start + pd.Timedelta(days=days))
    return float(values[mask].mean())


def _scope(rng: np.random.Generator, kind: str, org: str, rest: np.ndarray, change: np.ndarray,
           traffic: np.ndarray) -> Scope:
    offset = int(rng.integers(-3, 4)) if org == "traffic" else int(rng.integers(-10, 11))
    implemented = ORG_CHANGE_DAY - pd.Timedelta(days=offset)
    if org == "other_finding":  # another finding's saving in the rest of the org; not this scope's
        control = rest * np.where(HISTORY >= ORG_CHANGE_DAY, 1 - rng.uniform(0.03, 0.15), 1.0)
    elif org == "traffic":  # the scope shares the org's daily traffic; another team steps alone
        other_team = np.where(HISTORY >= ORG_CHANGE_DAY, 1 + rng.uniform(-0.6, 1.0), 1.0)
        control = rest * (0.75 * traffic + 0.25 * other_team)
    else:
        control = rest * change
    org_factor = change if org == "shared" else np.ones(len(HISTORY))
    t = (HISTORY - implemented).days.to_numpy(dtype=float)
    level = float(np.exp(rng.uniform(np.log(20), np.log(5000))))
    trend = float(rng.uniform(-0.04, 0.06))
    variable = level * np.exp(trend / DAYS_PER_MONTH * t) * _weekly_pattern(rng)[HISTORY.day_of_week]
    step = float(rng.uniform(0.05, 0.60))
    on_or_after = t >= 0
    if rng.random() < 0.5:  # rate cut: every day's cost × (1 - step)
        counterfactual = variable * org_factor
        cut = counterfactual * step
    else:  # removed flat item worth `step` of the spend at implementation
        flat = step / (1 - step) * level
        counterfactual = (variable + flat) * org_factor
        cut = flat * org_factor
    active = {"changed": on_or_after, "unchanged": np.zeros_like(on_or_after),
              "rolled_back": on_or_after & (t < 7)}[kind]
    actual = counterfactual - np.where(active, cut, 0.0)
    sigma = float(rng.uniform(0.01, 0.05))
    observed = actual * _noise(rng, len(t), sigma, float(rng.uniform(0.0, 0.5)))
    if org == "traffic":
        observed = observed * traffic
    after_start = implemented + pd.Timedelta(days=1)
    recheck_start = implemented + pd.Timedelta(days=SETTLE + RECHECK_AFTER - 29)
    saved = counterfactual - actual
    planned = _window_mean(cut, after_start, SETTLE) * DAYS_PER_MONTH
    return Scope(kind=kind, step=step, implemented_on=implemented.date(),
                 estimate_monthly=planned * float(rng.uniform(0.85, 1.15)),
                 observed=pd.Series(observed, index=HISTORY),
                 truth_monthly=_window_mean(saved, after_start, SETTLE) * DAYS_PER_MONTH,
                 recheck_truth_monthly=_window_mean(saved, recheck_start, 30) * DAYS_PER_MONTH,
                 sigma=sigma, trend=trend, org=org, org_offset=offset, control=pd.Series(control, index=HISTORY))


def _naive(scope: Scope) -> tuple[float, float]:
    """Before/after means over the same windows; also the re-check's saving (last 30 days)."""
    implemented = pd.Timestamp(scope.implemented_on)
    values = scope.observed.to_numpy()
    before = _window_mean(values, implemented - pd.Timedelta(days=BASELINE), BASELINE)
    after = _window_mean(values, implemented + pd.Timedelta(days=1), SETTLE)
    recent = _window_mean(values, implemented + pd.Timedelta(days=SETTLE + RECHECK_AFTER - 29), 30)
    return (before - after) * DAYS_PER_MONTH, (before - recent) * DAYS_PER_MONTH


METHODS = ("ours", "ours_no_control", "ratio_control", "naive")
TARGET_WITHIN = 0.10  # |realized - truth| / truth on steps >= 10 % of the scope's spend
TARGET_SHARE = 0.80  # of those findings within ±10 % (the target, read as "most")
ORGS = ("shared", "elsewhere", "other_finding", "traffic")


def run(seeds: int, scopes_per_seed: int, traffic_share: float = 0.2) -> pd.DataFrame:
    """One row per (scope, method): realized, truth, outcome, re-check."""
    rows = []
    rest_share = 1 - traffic_share
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        rest, change, traffic = _org(rng, seed)
        kinds = rng.choice(["changed", "unchanged", "rolled_back"], size=scopes_per_seed, p=[0.6, 0.2, 0.2])
        orgs = rng.choice(ORGS, size=scopes_per_seed,
                          p=[0.5 * rest_share, 0.25 * rest_share, 0.25 * rest_share, traffic_share])
        for kind, org in zip(kinds, orgs, strict=True):
            scope = _scope(rng, str(kind), str(org), rest, change, traffic)
            after_end = scope.implemented_on + pd.Timedelta(days=SETTLE)
            common = {"seed": seed, "kind": scope.kind, "org": scope.org, "org_offset": scope.org_offset,
                      "step": scope.step, "truth": scope.truth_monthly, "sigma": scope.sigma, "trend": scope.trend,
                      "recheck_truth": scope.recheck_truth_monthly, "estimate": scope.estimate_monthly}
            for method, ctrl, elasticity in (("ours", scope.control, None), ("ours_no_control", None, None),
                                             ("ratio_control", scope.control, 1.0)):
                result = verify_saving(scope.observed, implemented_on=scope.implemented_on,
                                       estimate_monthly=scope.estimate_monthly, as_of=after_end,
                                       control=ctrl, control_elasticity=elasticity)
                # Re-check as if verified at the planned figure, so rollbacks get re-checked too.
                recheck = recheck_verified(scope.observed, implemented_on=scope.implemented_on,
                                           verified_monthly=scope.estimate_monthly,
                                           as_of=after_end + pd.Timedelta(days=RECHECK_AFTER), control=ctrl,
                                           control_elasticity=elasticity)
                rows.append({**common, "method": method, "realized": result.realized_monthly,
                             "standard_error": result.standard_error_monthly,
                             "elasticity": result.control.elasticity,
                             "verified": result.outcome is FindingState.VERIFIED,
                             "regressed": recheck.regressed, "recheck_saving": recheck.saving_monthly,
                             "regressed_30_days": recheck.saving_monthly < recheck.threshold_monthly})
            naive, naive_recent = _naive(scope)
            rows.append({**common, "method": "naive", "realized": naive, "standard_error": np.nan,
                         "elasticity": np.nan, "verified": naive >= SHARE * scope.estimate_monthly,
                         "regressed": naive_recent < 0.5 * scope.estimate_monthly, "recheck_saving": naive_recent,
                         "regressed_30_days": naive_recent < 0.5 * scope.estimate_monthly})
    return pd.DataFrame(rows)


def _relative_errors(rows: pd.DataFrame) -> pd.Series:
    target = rows[(rows["kind"] == "changed") & (rows["step"] >= 0.10)]
    return (target["realized"] - target["truth"]) / target["truth"]


def _figures(rows: pd.DataFrame) -> dict[str, float]:
    changed = rows[rows["kind"] == "changed"]
    error = _relative_errors(rows)
    small = changed[changed["step"] < 0.10]
    return {
        "median |err|, step >= 10 %": error.abs().median(),
        "p90 |err|, step >= 10 %": error.abs().quantile(0.9),
        "within ±10 %, step >= 10 %": (error.abs() <= TARGET_WITHIN).mean(),
        "median err (bias)": error.median(),
        "median |err|, step 5-10 %": ((small["realized"] - small["truth"]) / small["truth"]).abs().median(),
        "changed: verified share": changed["verified"].mean(),
        "unchanged: verified (count)": int(rows.loc[rows["kind"] == "unchanged", "verified"].sum()),
        "rolled back: verified (count)": int(rows.loc[rows["kind"] == "rolled_back", "verified"].sum()),
        "re-check: kept changes flagged": changed["regressed"].mean(),
        "re-check: kept flagged, 30 days alone": changed["regressed_30_days"].mean(),
        "re-check: rollbacks flagged": rows.loc[rows["kind"] == "rolled_back", "regressed"].mean(),
        "|err| <= 3 std errors, all": ((rows["realized"] - rows["truth"]).abs() <= 3 * rows["standard_error"]).mean()
        if rows["standard_error"].notna().all() else np.nan,
    }


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """The figures per method (columns)."""
    return pd.DataFrame({method: _figures(rows) for method, rows in results.groupby("method", sort=False)})


def by_org(results: pd.DataFrame) -> pd.DataFrame:
    """Per org scenario and method: share within ±10 % (steps >= 10 %) and unchanged scopes verified."""
    out = {}
    for (org, method), rows in results.groupby(["org", "method"], sort=False):
        figures = _figures(rows)
        out[(org, method)] = {"within ±10 %": figures["within ±10 %, step >= 10 %"],
                              "median |err|": figures["median |err|, step >= 10 %"],
                              "unchanged verified": figures["unchanged: verified (count)"],
                              "unchanged scopes": int((rows["kind"] == "unchanged").sum())}
    table = pd.DataFrame(out).T
    table.index.names = ["org", "method"]
    return table.reindex([(o, m) for o in ORGS for m in METHODS])


def within_ten_percent_by_band(results: pd.DataFrame) -> pd.DataFrame:
    """Share within ±10 % of truth, by step size (rows) and daily noise (columns), for one method."""
    rows = results[(results["kind"] == "changed") & (results["step"] >= 0.10)].copy()
    rows["within"] = ((rows["realized"] - rows["truth"]) / rows["truth"]).abs() <= TARGET_WITHIN
    rows["step band"] = pd.cut(rows["step"], [0.10, 0.20, 0.40, 0.60])
    rows["noise band"] = pd.cut(rows["sigma"], [0.01, 0.02, 0.03, 0.04, 0.05])
    return rows.pivot_table(index="step band", columns="noise band", values="within", aggfunc="mean",
                            observed=True)


def checks(table: pd.DataFrame) -> list[tuple[str, bool]]:
    """The targets, for ``ours``: (what, met)."""
    ours = table["ours"]
    return [
        (f"within ±{TARGET_WITHIN:.0%} of truth on steps >= 10 %: {ours['within ±10 %, step >= 10 %']:.1%} "
         f"(target >= {TARGET_SHARE:.0%})", ours["within ±10 %, step >= 10 %"] >= TARGET_SHARE),
        (f"unchanged scopes verified: {int(ours['unchanged: verified (count)'])} (target 0)",
         ours["unchanged: verified (count)"] == 0),
        (f"rolled-back scopes verified: {int(ours['rolled back: verified (count)'])} (target 0)",
         ours["rolled back: verified (count)"] == 0),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one seed, 40 scopes (a few seconds)")
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--scopes", type=int, default=300, help="scopes per seed")
    parser.add_argument("--traffic-share", type=float, default=0.2,
                        help="share of scopes in the adversarial 'traffic' case (0 to leave it out)")
    args = parser.parse_args()
    seeds, scopes = (1, 40) if args.smoke else (args.seeds, args.scopes)

    started = time.perf_counter()
    results = run(seeds, scopes, args.traffic_share)
    elapsed = time.perf_counter() - started
    naive_rows = results[results["method"] == "naive"]
    counts = naive_rows["kind"].value_counts()
    orgs = naive_rows["org"].value_counts()
    print(f"savings verification accuracy: {seeds} seed(s) x {scopes} scopes "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())}; "
          f"{len(_relative_errors(naive_rows))} changed with a step >= 10 % of spend; "
          f"org: {', '.join(f'{k} {v}' for k, v in orgs.items())})")
    print(f"windows: baseline {BASELINE} days, after {SETTLE} days; verified when realized >= {SHARE:.0%} "
          f"of the estimate; the org's change within 10 days of implementation (3 for traffic); "
          f"re-check {RECHECK_AFTER} days after the after window\n")
    table = summarise(results)
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 160):
        print(table[[m for m in METHODS if m in table]].to_string())
        print("\nby what happened to the rest of the org:")
        print(by_org(results).to_string())
        print("\nours, share within ±10 % of truth by step (rows) and daily noise sigma (columns):")
        print(within_ten_percent_by_band(results[results["method"] == "ours"]).to_string())
    ours_rows = results[results["method"] == "ours"]
    applied = {org: (ours_rows.loc[ours_rows["org"] == org, "elasticity"] > 0).mean() for org in ORGS}
    print(f"\nours: the control's steps followed (elasticity > 0) for {(ours_rows['elasticity'] > 0).mean():.1%} "
          f"of scopes; " + ", ".join(f"{org} {share:.1%}" for org, share in applied.items() if share == share))
    for method in ("ours", "ratio_control", "naive"):
        figures = table[method]
        print(f"{method:>13}: median |err| {figures['median |err|, step >= 10 %']:.1%}, "
              f"p90 {figures['p90 |err|, step >= 10 %']:.1%}, "
              f"within ±10 % {figures['within ±10 %, step >= 10 %']:.1%}; false verifications: "
              f"{int(figures['unchanged: verified (count)'])} unchanged, "
              f"{int(figures['rolled back: verified (count)'])} rolled back; kept savings flagged regressed "
              f"{figures['re-check: kept changes flagged']:.1%}")
    ratio = table["naive"] / table["ours"]
    print(f"naive / ours: median |err| {ratio['median |err|, step >= 10 %']:.1f}x, "
          f"p90 {ratio['p90 |err|, step >= 10 %']:.1f}x   ({elapsed:.1f}s)")
    print("\ntargets (ours):")
    results_ok = checks(table)
    for what, met in results_ok:
        print(f"  {'PASS' if met else 'FAIL'}  {what}")
    missed = not all(met for _, met in results_ok)
    return 1 if missed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
