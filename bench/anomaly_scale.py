"""Speed and memory of one daily detection run at scale, against the plain z-score, same run.

10,000 synthetic owned series (200 accounts x 50 services, 40 teams, so 2,000 service roll-ups
and 200 account roll-ups) x 400 days, one row per series and day, with weekly patterns, trends,
noise, month-end jobs and about 1 % of series carrying a spike or a shift. The frame is
written to Parquet once; a child process loads it (string columns as pandas 3 strings, as a
loader would hand them over) and runs ``detect_anomalies`` for the last day, from the daily
cost frame to described anomalies (root cause and chart included). The child reports the wall
time of that run and its peak RSS (the loaded frame included); the reference is the README's
rolling 28-day median/MAD z-score over the same series in the same child.

Targets: one run <= 30 s, peak RSS <= 1.5 GB.

    .venv/bin/python bench/anomaly_scale.py            # 10,000 series x 400 days
    .venv/bin/python bench/anomaly_scale.py --smoke    # 500 series x 120 days
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from finops.anomalies import detect_anomalies
from finops.model import DAY, TEAM

TARGET_SECONDS = 30.0
TARGET_RSS_MB = 1536.0
ACCOUNTS, SERVICES, TEAMS = 200, 50, 40
FIRST_DAY = date(2025, 1, 6)


def synthetic_frame(n_series: int, days: int, seed: int = 5) -> pd.DataFrame:
    """One row per series and day with the columns detection reads (other daily columns are "")."""
    rng = np.random.default_rng(seed)
    services = min(SERVICES, n_series)
    accounts = -(-n_series // services)
    series = np.arange(n_series)
    account = series // services
    weekly = np.where(rng.random(n_series) < 0.4, rng.uniform(0.5, 0.9, n_series), 1.0)
    level = np.exp(rng.uniform(np.log(5), np.log(5000), n_series))
    growth = rng.uniform(-0.2, 0.6, n_series)
    noise = rng.uniform(0.02, 0.12, n_series)
    month_end = np.where(rng.random(n_series) < 0.1, rng.uniform(1.5, 3.0, n_series), 1.0)

    calendar = pd.date_range(FIRST_DAY, periods=days, freq="D")
    weekend = np.asarray(calendar.day_of_week >= 5)
    last_of_month = np.asarray(calendar.is_month_end)
    t = np.arange(days) / 365
    values = level[:, None] * (1 + growth[:, None]) ** t[None, :]
    values = values * np.where(weekend[None, :], weekly[:, None], 1.0)
    values = values * np.where(last_of_month[None, :], month_end[:, None], 1.0)
    values *= np.exp(rng.normal(0, 1, (n_series, days)) * noise[:, None])
    hit = rng.choice(n_series, size=max(1, n_series // 100), replace=False)
    for i in hit:  # spikes or shifts over the last days, so the run has events to describe
        start = days - int(rng.integers(1, 15))
        values[i, start:] *= rng.uniform(1.6, 4.0)

    providers = np.array(["AWS", "Microsoft", "Google Cloud"], dtype=object)
    account_ids = np.array([f"{100000000000 + a}" for a in range(accounts)], dtype=object)
    service_names = np.array([f"Service {s:02d}" for s in range(services)], dtype=object)
    regions = np.array(["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"], dtype=object)
    teams = np.array([f"team-{t:02d}" for t in range(TEAMS)], dtype=object)
    resources = np.array([f"res-{i}" for i in range(n_series)], dtype=object)

    per_row = np.repeat(series, days)
    return pd.DataFrame({
        DAY: np.tile(calendar.to_numpy(), n_series),
        "ProviderName": providers[account[per_row] % providers.size],
        "SubAccountId": account_ids[account[per_row]],
        "ServiceName": service_names[per_row % services],
        "RegionId": regions[(account[per_row] + per_row) % regions.size],
        "ChargeCategory": np.full(per_row.size, "Usage", dtype=object),
        "SkuId": service_names[per_row % services],
        "ResourceId": resources[per_row],
        TEAM: teams[account[per_row] % TEAMS],
        "EffectiveCost": values.reshape(-1),
    })


def rolling_zscore(frame: pd.DataFrame) -> int:
    """The reference: series firing on the last day with z > 5 and > $50 against 28 days before."""
    keys = ["ProviderName", "SubAccountId", "ServiceName"]
    matrix = frame.pivot_table(index=keys, columns=DAY, values="EffectiveCost", aggfunc="sum").to_numpy()
    window, today = matrix[:, -29:-1], matrix[:, -1]
    median = np.median(window, axis=1)
    mad = 1.4826 * np.median(np.abs(window - median[:, None]), axis=1)
    excess = today - median
    return int(((excess > 5 * mad) & (excess > 50)).sum())


def child(path: Path) -> dict:
    """Load the frame, then time one detection run and the reference; report time and peak RSS."""
    frame = pd.read_parquet(path)
    loaded_mb = _rss_mb()
    days = frame[DAY].nunique()
    n_series = len(frame) // days
    last = FIRST_DAY + timedelta(days=days - 1)
    began = time.perf_counter()
    result = detect_anomalies(frame, as_of=last + timedelta(days=1), complete_through=last)
    seconds = time.perf_counter() - began
    detection_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    began = time.perf_counter()
    fired = rolling_zscore(frame)
    baseline_seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"series": n_series, "days": days, "rows": len(frame), "seconds": seconds,
            "anomalies": len(result.new), "baseline_seconds": baseline_seconds, "baseline_fired": fired,
            "loaded_rss_mb": loaded_mb, "peak_rss_mb": detection_peak_mb, "peak_rss_with_reference_mb": peak_mb}


def _rss_mb() -> float:
    """The current resident set size of this process, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="500 series x 120 days")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    n_series, days = (500, 120) if args.smoke else (10_000, 400)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "daily.parquet"
        synthetic_frame(n_series, days).to_parquet(path)
        done = subprocess.run([sys.executable, __file__, "--child", str(path)],
                              capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"targets: one run <= {TARGET_SECONDS:.0f} s, peak RSS <= {TARGET_RSS_MB / 1024:.1f} GB")
    print(f"{r['series']:,} series x {r['days']} days ({r['rows']:,} rows), one daily run for the last day:")
    print(f"  costbot detect_anomalies   {r['seconds']:6.1f} s   {r['anomalies']} new anomalies, described")
    print(f"  rolling z-score (ref)      {r['baseline_seconds']:6.1f} s   {r['baseline_fired']} series firing")
    print(f"  ratio costbot / reference  {r['seconds'] / max(r['baseline_seconds'], 1e-9):6.1f} x")
    print(f"  peak RSS of the child      {r['peak_rss_mb']:6.0f} MB through detection (the loaded frame alone: "
          f"{r['loaded_rss_mb']:.0f} MB; {r['peak_rss_with_reference_mb']:.0f} MB once the reference ran too)")
    ok = r["seconds"] <= TARGET_SECONDS and r["peak_rss_mb"] <= TARGET_RSS_MB
    print("  within targets" if ok else "  OUTSIDE targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
