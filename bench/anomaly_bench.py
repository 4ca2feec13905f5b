"""Accuracy of anomaly detection: costbot's detector against a plain rolling z-score, same run.

Two labeled histories, each replayed day by day (each day sees only data up to that day) and
scored with ``../shared/bench/score_anomalies.py`` (precision, recall, F1, duplicates, delay):

1. the shared labeled bench ``../shared/data/anomaly-bench`` (its costs, teams.yml, labels);
2. synthetic histories generated here from seeds, with other accounts, noise levels, weekly
   patterns (weekend dips, weekday-only dev spend, Friday peaks, none), trends, fees on other
   days, month-end and mid-month jobs, holidays, credits, regions, SKUs and resources, and
   planted spikes, shifts, ramps, drops and new services of random size, labeled by the same
   rule as the shared bench (an increase is a must when it adds >= $100 and >= 30 %).

The baseline is the README's reference: per provider x account x service (usage charges), a
rolling 28-day median/MAD z-score firing where z > 5 and the excess is > $50. It is scored two
ways: consecutive firing days as one report (this reproduces the README's F1 0.59 on the shared
bench), and one report per firing day (every further day of an event is then a duplicate).

    .venv/bin/python bench/anomaly_bench.py             # both data sets, full replays
    .venv/bin/python bench/anomaly_bench.py --smoke     # 60 days of the shared bench, one small synthetic
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.shared_data

from finops.anomalies import replay_detection  # noqa: E402
from finops.model import DAY, TEAM, UNALLOCATED, canonical_tags, conform_daily_frame
from tests.shared_data import find_shared  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = find_shared()
BENCH_DIR = SHARED / "data" / "anomaly-bench"
SCORER = SHARED / "bench" / "score_anomalies.py"
OUT_DIR = ROOT / "bench" / "out"

TARGETS = "F1 >= 0.90, zero duplicates, median delay 0 days; replay <= 60 s"
SYNTHETIC_SEEDS = (11, 23, 37)
SMOKE_DAYS = 60
SMOKE_WARM_UP_DAYS = 90
BASELINE_WINDOW = 28
BASELINE_Z = 5.0
BASELINE_MIN_EXCESS = 50.0


# ---------------------------------------------------------------------------------------------- data


def allocate_by_tag_or_account(costs: pd.DataFrame, teams_yml: Path) -> pd.Series:
    """Owner per row: the ``team`` tag, else the teams.yml account mapping, else unallocated.

    A stand-in for the real allocation (finops/ownership.py) so the bench has owned series.
    """
    config = yaml.safe_load(teams_yml.read_text())
    by_account = {str(rule["sub_account_id"]): team["name"]
                  for team in config["teams"] for rule in team["match"] if "sub_account_id" in rule}
    tags = costs["Tags"].fillna("").map(lambda text: json.loads(text).get("team") if text else None)
    return tags.fillna(costs["SubAccountId"].astype(str).map(by_account)).fillna(UNALLOCATED)


def load_shared_bench() -> tuple[pd.DataFrame, dict]:
    """The shared bench as an allocated daily cost frame, and its labels."""
    daily = conform_daily_frame(pd.read_csv(BENCH_DIR / "costs.csv.gz"))
    daily[TEAM] = allocate_by_tag_or_account(daily, BENCH_DIR / "teams.yml").to_numpy()
    return daily, json.loads((BENCH_DIR / "labels.json").read_text())


# ---------------------------------------------------------------------------------------------- synthetic


@dataclass
class _Series:
    provider: str
    account: str
    service: str
    team: str
    regions: list[str]
    skus: list[str]
    level: float
    noise: float
    weekly: np.ndarray  # factor per weekday, Monday first
    growth: float  # per year
    month_end: float  # multiplier of the last day of the month (1 = none)
    mid_month: float  # multiplier of the 15th (1 = none)
    holiday_dip: float


PROVIDERS = {
    "AWS": (["210987654321", "210987654322", "210987654323"],
            ["Amazon EC2", "Amazon S3", "Amazon RDS", "AWS Lambda", "Amazon EKS", "Amazon Athena",
             "Amazon OpenSearch Service", "Amazon ElastiCache"],
            ["us-east-1", "eu-central-1", "ap-southeast-2"]),
    "Microsoft": (["a1b2c3d4-1111-4000-8000-000000000001", "a1b2c3d4-1111-4000-8000-000000000002"],
                  ["Virtual Machines", "Storage", "Azure Cosmos DB", "Azure Functions", "Azure Monitor",
                   "Azure Synapse Analytics"],
                  ["northeurope", "eastus2"]),
    "Google Cloud": (["analytics-prod-7", "web-prod-3"],
                     ["Compute Engine", "BigQuery", "Cloud Storage", "Cloud Run", "Cloud Spanner", "Dataflow"],
                     ["us-east4", "europe-west4"]),
}
SYNTH_TEAMS = ("checkout", "catalog", "analytics", "platform", "growth")
WEEKLY_SHAPES = {
    "flat": np.ones(7),
    "weekend_dip": np.array([1, 1, 1, 1, 1, 0.7, 0.65]),
    "weekday_only": np.array([1, 1, 1, 1, 1, 0.05, 0.05]),
    "friday_peak": np.array([1, 1, 1, 1.1, 1.45, 0.9, 0.85]),
}


def synthetic_bench(seed: int, *, days: int = 500, n_series: int = 40) -> tuple[pd.DataFrame, dict]:
    """A labeled synthetic history: (daily cost frame with x_Team, labels in the scorer's format)."""
    rng = np.random.default_rng(seed)
    first = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    calendar = [first + timedelta(days=i) for i in range(days)]
    dow = np.array([d.weekday() for d in calendar])
    series: list[_Series] = []
    used = set()
    combinations = sum(len(a) * len(s) for a, s, _ in PROVIDERS.values())
    while len(series) < min(n_series, combinations):
        provider = str(rng.choice(list(PROVIDERS)))
        accounts, services, regions = PROVIDERS[provider]
        account, service = str(rng.choice(accounts)), str(rng.choice(services))
        if (provider, account, service) in used:
            continue
        used.add((provider, account, service))
        shape = str(rng.choice(list(WEEKLY_SHAPES), p=[0.4, 0.3, 0.15, 0.15]))
        n_regions = int(rng.choice([1, 1, 2, 3]))
        series.append(_Series(
            provider, account, service, team=str(rng.choice(SYNTH_TEAMS)),
            regions=[str(r) for r in rng.choice(regions, size=min(n_regions, len(regions)), replace=False)],
            skus=[f"{service.split()[-1].upper()}-{k}" for k in range(int(rng.integers(1, 4)))],
            level=float(np.exp(rng.uniform(np.log(15), np.log(6000)))),
            noise=float(rng.uniform(0.02, 0.14)),
            weekly=WEEKLY_SHAPES[shape] * float(rng.uniform(0.9, 1.1)) ** np.array([0, 0, 0, 0, 0, 1, 1]),
            growth=float(rng.uniform(-0.25, 0.8)),
            month_end=float(rng.uniform(1.6, 3.5)) if rng.random() < 0.15 else 1.0,
            mid_month=float(rng.uniform(1.8, 3.0)) if rng.random() < 0.06 else 1.0,
            holiday_dip=float(rng.uniform(0.5, 0.85)) if shape != "flat" else 1.0,
        ))

    start_scoring = 100
    normal = np.zeros((len(series), days))
    for i, s in enumerate(series):
        trend = s.level * (1 + s.growth) ** (np.arange(days) / 365)
        values = trend * s.weekly[dow]
        for t, d in enumerate(calendar):
            if (d + timedelta(days=1)).day == 1:
                values[t] *= s.month_end
            if d.day == 15:
                values[t] *= s.mid_month
            if (d.month, d.day) in ((12, 25), (1, 1)):
                values[t] *= s.holiday_dip
        normal[i] = values * np.exp(rng.normal(0, s.noise, days) - s.noise ** 2 / 2)
    actual = normal.copy()

    must, may = [], []

    def label(i: int, kind: str, a: int, b: int) -> None:
        s = series[i]
        impact = float((actual[i, a:b + 1] - normal[i, a:b + 1]).sum())
        base = float(normal[i, a:b + 1].sum())
        entry = {"provider": s.provider, "sub_account_id": s.account, "service": s.service,
                 "region": s.regions[0], "team": s.team, "kind": kind,
                 "start": calendar[a].isoformat(), "end": calendar[b].isoformat(), "impact": round(impact, 2)}
        material = impact >= 100 and base > 0 and impact / base >= 0.30
        (must if material else may).append(entry)

    busy = np.zeros((len(series), days), dtype=bool)
    for i in range(len(series)):
        for _ in range(int(rng.integers(0, 3))):
            kind = str(rng.choice(["spike", "spike", "shift", "ramp", "drop"]))
            length = {"spike": int(rng.integers(1, 4)), "shift": int(rng.integers(7, 61)),
                      "ramp": int(rng.integers(10, 26)), "drop": int(rng.integers(3, 11))}[kind]
            a = int(rng.integers(start_scoring, days - 5))
            b = min(days - 1, a + length - 1)
            if busy[i, max(0, a - 30):b + 30].any():
                continue
            busy[i, a:b + 1] = True
            if kind == "spike":
                actual[i, a:b + 1] *= rng.uniform(1.5, 5.0)
            elif kind == "shift":
                actual[i, a:b + 1] *= rng.uniform(1.35, 2.5)
            elif kind == "ramp":
                step = rng.uniform(0.08, 0.25)
                actual[i, a:b + 1] *= 1 + step * np.arange(1, b - a + 2)
            else:
                actual[i, a:b + 1] *= rng.uniform(0.1, 0.6)
            label(i, kind, a, b)

    rows = []
    for i, s in enumerate(series):
        shares = rng.dirichlet(np.ones(len(s.regions) * len(s.skus)))
        parts = [(r, k) for r in s.regions for k in s.skus]
        for t in range(days):
            for (region, sku), share in zip(parts, shares, strict=True):
                rows.append((calendar[t], s.provider, s.account, s.service, region, sku,
                             f"{s.account}/{s.service.lower().replace(' ', '-')}/{region}/{sku}",
                             "Usage", actual[i, t] * share, s.team))
    # new services appearing in an account: must when material
    for _ in range(2):
        provider = str(rng.choice(list(PROVIDERS)))
        accounts, _, regions = PROVIDERS[provider]
        account, region = str(rng.choice(accounts)), str(rng.choice(regions))
        service, team = f"New Service {int(rng.integers(100, 999))}", str(rng.choice(SYNTH_TEAMS))
        a = int(rng.integers(start_scoring + 30, days - 20))
        daily_cost = float(np.exp(rng.uniform(np.log(60), np.log(2000))))
        for t in range(a, days):
            rows.append((calendar[t], provider, account, service, region, "NEW-1", f"{account}/new/{t % 3}",
                         "Usage", daily_cost * float(np.exp(rng.normal(0, 0.05))), team))
        must.append({"provider": provider, "sub_account_id": account, "service": service, "region": region,
                     "team": team, "kind": "new_spend", "start": calendar[a].isoformat(),
                     "end": calendar[-1].isoformat(), "impact": round(daily_cost * (days - a), 2)})
    # a support fee on the 1st, tax on the last day, credits now and then: never anomalies
    fee = float(rng.uniform(2000, 20000))
    tax_rate = float(rng.uniform(0.05, 0.2))
    month_total = normal.sum(axis=0)
    for t, d in enumerate(calendar):
        if d.day == 1:
            fee *= float(rng.uniform(0.97, 1.06))
            rows.append((d, "AWS", "210987654321", "AWS Support (Enterprise)", "global", "SUPPORT", "",
                         "Purchase", fee, UNALLOCATED))
        if (d + timedelta(days=1)).day == 1:
            month_days = [u for u in range(t + 1) if calendar[u].month == d.month and calendar[u].year == d.year]
            rows.append((d, "AWS", "210987654321", "Tax", "global", "TAX", "", "Tax",
                         tax_rate * float(month_total[month_days].sum()) / 3, UNALLOCATED))
    for i in rng.choice(len(series), size=6, replace=False):
        t = int(rng.integers(start_scoring, days))
        s = series[int(i)]
        rows.append((calendar[t], s.provider, s.account, s.service, s.regions[0], "CREDIT", "", "Credit",
                     -float(rng.uniform(0.5, 3.0)) * s.level, s.team))

    frame = pd.DataFrame(rows, columns=[DAY, "ProviderName", "SubAccountId", "ServiceName", "RegionId",
                                        "SkuId", "ResourceId", "ChargeCategory", "EffectiveCost", TEAM])
    frame["Tags"] = [canonical_tags({"team": t}) if t != UNALLOCATED else "" for t in frame[TEAM]]
    daily = conform_daily_frame(frame)
    daily[TEAM] = frame[TEAM].to_numpy()
    labels = {"score_from": calendar[start_scoring].isoformat(), "must_detect": must, "may_detect": may,
              "rules": {"min_impact_usd": 100.0, "min_relative_increase": 0.3}}
    return daily, labels


# ---------------------------------------------------------------------------------------------- baseline


def rolling_zscore_reports(daily: pd.DataFrame, start: date, end: date, *, merge_runs: bool) -> list[dict]:
    """The plain reference detector: reports where z > 5 and the excess is > $50.

    Per provider x account x service, the day's usage cost against the median and MAD of the 28
    days before it; no seasonality. ``merge_runs``: consecutive firing days of a series form one
    report (detected on its first day); otherwise every firing day is its own report.
    """
    keys = ["ProviderName", "SubAccountId", "ServiceName"]
    usage = daily[daily["ChargeCategory"] == "Usage"]
    totals = usage.groupby([*keys, DAY], sort=True)["EffectiveCost"].sum().unstack(DAY, fill_value=0.0)
    days = totals.columns
    values = totals.to_numpy()
    reports: list[dict] = []
    running: dict[int, dict] = {}  # series -> its report still firing yesterday
    for j, day in enumerate(days):
        d = day.date()
        if d < start or d > end or j < BASELINE_WINDOW:
            continue
        window = values[:, j - BASELINE_WINDOW:j]
        median = np.median(window, axis=1)
        mad = 1.4826 * np.median(np.abs(window - median[:, None]), axis=1)
        excess = values[:, j] - median
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(mad > 0, excess / mad, np.inf * np.sign(excess))
        firing = set(np.flatnonzero((z > BASELINE_Z) & (excess > BASELINE_MIN_EXCESS)).tolist())
        for i in firing:
            if merge_runs and i in running:
                running[i]["end"] = d.isoformat()
                running[i]["impact"] += float(excess[i])
                continue
            provider, account, service = totals.index[i]
            report = {"id": f"z:{i}:{d}", "detected_on": d.isoformat(), "start": d.isoformat(),
                      "end": d.isoformat(), "impact": float(excess[i]),
                      "dimensions": {"provider": provider, "sub_account_id": account, "service": service}}
            reports.append(report)
            running[i] = report
        running = {i: r for i, r in running.items() if i in firing}
    return reports


# ---------------------------------------------------------------------------------------------- scoring


def replay_reports(daily: pd.DataFrame, start: date, end: date) -> tuple[list[dict], float]:
    """costbot's replay as scorer reports, and its wall time in seconds."""
    began = time.perf_counter()
    anomalies = replay_detection(daily, start=start, end=end)
    elapsed = time.perf_counter() - began
    reports = []
    for a in anomalies:
        d = a.to_dict()
        reports.append({k: d[k] for k in ("id", "detected_on", "start", "end", "dimensions", "expected_cost",
                                          "actual_cost", "impact", "team", "kind", "direction", "level")})
    return reports, elapsed


def labels_from(labels: dict, start: date) -> dict:
    """Labels for a replay from ``start``: events that began earlier become may-detect."""
    began = [lab for lab in labels["must_detect"] if date.fromisoformat(lab["start"]) < start]
    return {**labels, "score_from": start.isoformat(),
            "must_detect": [lab for lab in labels["must_detect"] if lab not in began],
            "may_detect": labels["may_detect"] + began}


def score(labels_path: Path, reports: list[dict], reports_path: Path) -> dict:
    """Run the shared scorer on reports written to ``reports_path``."""
    reports_path.write_text(json.dumps(reports, indent=1))
    done = subprocess.run([sys.executable, str(SCORER), str(labels_path), str(reports_path)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def line(name: str, result: dict) -> str:
    """One printed line of scores."""
    return (f"  {name:<22} F1 {result['f1']:.3f}  precision {result['precision']:.3f}  recall {result['recall']:.3f}"
            f"  found {result['found']}/{result['must']} (on time {result['on_time']})  false+ {result['false_positives']}"
            f"  duplicates {result['duplicates']}  median delay {result['median_delay_days']}  reports {result['reports']}")


def run_data_set(title: str, daily: pd.DataFrame, labels: dict, labels_path: Path, out: Path,
                 start: date, end: date) -> tuple[dict, dict, float]:
    """Replay and score costbot and the reference on one data set; print and return the scores."""
    ours, seconds = replay_reports(daily, start, end)
    ours_score = score(labels_path, ours, out / "replay.json")
    merged = score(labels_path, rolling_zscore_reports(daily, start, end, merge_runs=True), out / "baseline.json")
    per_day = score(labels_path, rolling_zscore_reports(daily, start, end, merge_runs=False),
                    out / "baseline-per-day.json")
    print(f"{title}: replay {start}..{end}, {len(labels['must_detect'])} must-detect labels")
    print(line("costbot", ours_score))
    print(line("z-score, runs (ref)", merged))
    print(line("z-score, per day", per_day))
    print(f"  replay wall time {seconds:.1f} s")
    return ours_score, merged, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the last 60 days of the shared bench, one small synthetic set")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where replay.json and labels are written")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"targets: {TARGETS}")

    daily, labels = load_shared_bench()
    last = daily[DAY].max().date()
    shared_dir = args.out / "shared"
    shared_dir.mkdir(exist_ok=True)
    labels_path = BENCH_DIR / "labels.json"
    start = date.fromisoformat(labels["score_from"])
    if args.smoke:
        # score the last days only, after a warm-up replay that learns the events before them
        # (as a first install replays its backfill), so an event ending just before is known
        labels = labels_from(labels, last - timedelta(days=SMOKE_DAYS))
        labels_path = shared_dir / "labels-smoke.json"
        labels_path.write_text(json.dumps(labels, indent=1))
        start = date.fromisoformat(labels["score_from"]) - timedelta(days=SMOKE_WARM_UP_DAYS)
    ours, base, seconds = run_data_set("shared anomaly bench", daily, labels, labels_path, shared_dir, start, last)

    seeds = SYNTHETIC_SEEDS[:1] if args.smoke else SYNTHETIC_SEEDS
    synth = []
    for seed in seeds:
        daily, labels = (synthetic_bench(seed, days=200, n_series=12) if args.smoke else synthetic_bench(seed))
        seed_dir = args.out / f"synthetic-{seed}"
        seed_dir.mkdir(exist_ok=True)
        labels_path = seed_dir / "labels.json"
        labels_path.write_text(json.dumps(labels, indent=1))
        start = date.fromisoformat(labels["score_from"])
        synth.append(run_data_set(f"synthetic seed {seed}", daily, labels, labels_path, seed_dir,
                                  start, daily[DAY].max().date()))
    if not args.smoke:
        print(f"synthetic mean F1: costbot {np.mean([s[0]['f1'] for s in synth]):.3f}, "
              f"rolling z-score {np.mean([s[1]['f1'] for s in synth]):.3f}")
    print(f"shared bench: costbot F1 {ours['f1']:.3f} vs reference {base['f1']:.3f}; replay {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
