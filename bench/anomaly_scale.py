"""Speed and memory of the real daily detection run at scale, against the plain z-score, same run.

10,000 synthetic owned series (200 accounts x 50 services, 40 teams owning five accounts each by
teams.yml rules, so 2,000 service roll-ups and 200 account roll-ups) x 400 days, one row per
series and day, with weekly patterns, trends, noise, month-end jobs and about 1 % of series
carrying a spike or a shift over the last two weeks. The rows are ingested into a SQLite store
through ``CostStore`` (as an ingest writes them, owners recorded for the teams.yml), not timed.

Then, each in a fresh child process that opens the store as the bot does (``build_context``):

1. the first run ever, eight days before the last (it learns the events of the history first);
2. a run after the job was down for seven days: it detects each missed day in turn, up to the
   day before the last;
3. **the daily run** for the last day, as the scheduler calls it (``detect_when_data_lands``):
   read the complete days from the store, detect, save, and post each alert through the
   delivery layer (a terminal transport writing to /dev/null: blocks and charts are rendered).

Each child reports its wall time (split into loading, detection, alerts), its peak RSS (the
interpreter and imports included) and, in the daily run's child after its peak RSS is taken, the
reference: the README's rolling 28-day median/MAD z-score over the same series and day.

Targets (the daily run): <= 30 s, peak RSS <= 1.5 GB.

    .venv/bin/python bench/anomaly_scale.py            # 10,000 series x 400 days
    .venv/bin/python bench/anomaly_scale.py --smoke    # 500 series x 120 days
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finops.model import DAY, TEAM, conform_daily_frame  # noqa: E402  (the repository root is on the path first)

TARGET_SECONDS = 30.0
TARGET_RSS_MB = 1536.0
ACCOUNTS, SERVICES, TEAMS = 200, 50, 40
FIRST_DAY = date(2025, 1, 6)
INGEST_DAYS = 50  # days per ingested batch (bounds the parent's memory)
MISSED_DAYS = 7  # the job was down this long before the day before the last


def account_id(a: int) -> str:
    return f"{100000000000 + a}"


def teams_yaml(accounts: int) -> str:
    """Teams owning accounts round-robin (account a belongs to team a % TEAMS)."""
    lines = ['default_channel: "#finops"', "teams:"]
    for t in range(min(TEAMS, accounts)):
        lines += [f"  - name: team-{t:02d}", f'    channel: "#team-{t:02d}"', "    match:"]
        lines += [f'      - sub_account_id: "{account_id(a)}"' for a in range(t, accounts, TEAMS)]
    return "\n".join(lines) + "\n"


def synthetic_values(n_series: int, days: int, seed: int = 5) -> np.ndarray:
    """(series, days) daily costs: level, trend, weekly pattern, month-end jobs, noise, ~1 % events."""
    rng = np.random.default_rng(seed)
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
    for i in rng.choice(n_series, size=max(1, n_series // 100), replace=False):
        values[i, days - int(rng.integers(1, 15)):] *= rng.uniform(1.6, 4.0)  # spikes or shifts
    return np.round(values, 2)


def synthetic_frame(values: np.ndarray, lo: int, hi: int) -> pd.DataFrame:
    """The daily cost frame of days lo..hi-1 (one row per series and day)."""
    n_series = values.shape[0]
    services = min(SERVICES, n_series)
    series = np.arange(n_series)
    account = series // services
    providers = np.array(["AWS", "Microsoft", "Google Cloud"], dtype=object)
    regions = np.array(["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"], dtype=object)
    account_ids = np.array([account_id(a) for a in range(int(account.max()) + 1)], dtype=object)
    service_names = np.array([f"Service {s:02d}" for s in range(services)], dtype=object)
    days = pd.date_range(FIRST_DAY + timedelta(days=lo), periods=hi - lo, freq="D").to_numpy()
    per_row = np.repeat(series, hi - lo)
    cost = values[:, lo:hi].reshape(-1)
    return conform_daily_frame(pd.DataFrame({
        DAY: np.tile(days, n_series),
        "ProviderName": providers[account[per_row] % providers.size],
        "BillingAccountId": "999000999000",
        "SubAccountId": account_ids[account[per_row]],
        "ServiceName": service_names[per_row % services],
        "RegionId": regions[(account[per_row] + per_row) % regions.size],
        "ChargeCategory": "Usage",
        "SkuId": service_names[per_row % services],
        "ResourceId": np.array([f"res-{i}" for i in range(n_series)], dtype=object)[per_row],
        "BilledCost": cost, "EffectiveCost": cost,
        TEAM: np.array([f"team-{t:02d}" for t in range(TEAMS)], dtype=object)[account[per_row] % TEAMS],
    }))


def build_store(url: str, n_series: int, days: int) -> float:
    """Ingest the synthetic rows into the store at ``url``; returns the seconds it took."""
    from bot.services.ownership import reallocate_stored_costs
    from finops.teams import parse_teams
    from storage.costs import CostStore
    from storage.db import Database

    began = time.perf_counter()
    db = Database(url)
    db.upgrade()
    store = CostStore(db)
    values = synthetic_values(n_series, days)
    for lo in range(0, days, INGEST_DAYS):
        store.replace_daily_costs("bench", synthetic_frame(values, lo, min(days, lo + INGEST_DAYS)))
    reallocate_stored_costs(store, parse_teams(teams_yaml(-(-n_series // SERVICES)), file="teams.yml"))
    db.dispose()
    return time.perf_counter() - began


def set_complete_through(url: str, day: date) -> None:
    from storage.costs import CostStore
    from storage.db import Database

    db = Database(url)
    CostStore(db).set_freshness("bench", last_day=day, complete_through=day)
    db.dispose()


def _timed(phases: dict[str, float], name: str, function: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - began
    return wrapper


def child(url: str, teams_file: Path, today: date, reference: bool) -> dict:
    """One scheduled detection check on ``today``, in this fresh process, as the bot runs it."""
    import jobs.detect
    from bot.config import Settings
    from bot.context import build_context
    from bot.delivery import TerminalTransport
    from finops.teams import load_teams

    phases: dict[str, float] = {}
    for name in ("load_detection_frame", "detect_anomalies", "replay_detection", "publish_anomaly"):
        setattr(jobs.detect, name, _timed(phases, name, getattr(jobs.detect, name)))
    with open(os.devnull, "w") as sink:
        ctx = build_context(Settings(database_url=url), teams=load_teams(teams_file),
                            transport=TerminalTransport(stream=sink), upgrade=False,
                            now=lambda: datetime(today.year, today.month, today.day, 9, tzinfo=UTC))
        began, cpu = time.perf_counter(), _cpu_seconds()
        run = jobs.detect.detect_when_data_lands(ctx)
        seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    out = {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_mb, "phases": dict(phases),
           "through": str(run.complete_through) if run else None,
           "new": len(run.saved.new) if run else 0, "updated": len(run.saved.updated) if run else 0,
           "posted": sum(1 for a in run.alerts.values() if a == "posted") if run else 0}
    if reference and run is not None:
        frame = jobs.detect.load_detection_frame(jobs.detect.CostStore(ctx.db),
                                                 run.complete_through - timedelta(days=28), run.complete_through)
        began = time.perf_counter()
        out["baseline_fired"] = rolling_zscore(frame)
        out["baseline_seconds"] = time.perf_counter() - began
    return out


def _cpu_seconds() -> float:
    """This process's user + system CPU time (the machine may be shared: wall time alone misleads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rolling_zscore(frame: pd.DataFrame) -> int:
    """The reference: series firing on the last day with z > 5 and > $50 against the 28 days before."""
    keys = ["ProviderName", "SubAccountId", "ServiceName"]
    matrix = frame.pivot_table(index=keys, columns=DAY, values="EffectiveCost", aggfunc="sum",
                               observed=True).to_numpy()
    window, today = matrix[:, -29:-1], matrix[:, -1]
    median = np.median(window, axis=1)
    mad = 1.4826 * np.median(np.abs(window - median[:, None]), axis=1)
    excess = today - median
    return int(((excess > 5 * mad) & (excess > 50)).sum())


def run_child(url: str, teams_file: Path, today: date, reference: bool) -> dict:
    args = [sys.executable, __file__, "--child", url, "--teams", str(teams_file), "--today", today.isoformat()]
    done = subprocess.run(args + (["--reference"] if reference else []), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="500 series x 120 days")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--teams", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--today", type=date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.teams, args.today, args.reference)))
        return 0
    n_series, days = (500, 120) if args.smoke else (10_000, 400)
    last = FIRST_DAY + timedelta(days=days - 1)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scale.db'}"
        teams_file = Path(tmp) / "teams.yml"
        teams_file.write_text(teams_yaml(-(-n_series // SERVICES)))
        ingest_seconds = build_store(url, n_series, days)
        size_mb = (Path(tmp) / "scale.db").stat().st_size / 2**20
        set_complete_through(url, last - timedelta(days=MISSED_DAYS + 1))
        first = run_child(url, teams_file, last - timedelta(days=MISSED_DAYS), reference=False)
        set_complete_through(url, last - timedelta(days=1))
        catch_up = run_child(url, teams_file, last, reference=False)
        set_complete_through(url, last)
        daily = run_child(url, teams_file, last + timedelta(days=1), reference=True)
    print(f"targets (the daily run): <= {TARGET_SECONDS:.0f} s, peak RSS <= {TARGET_RSS_MB / 1024:.1f} GB")
    print(f"{n_series:,} series x {days} days ({n_series * days:,} rows) ingested into SQLite in "
          f"{ingest_seconds:.0f} s ({size_mb:.0f} MB)")
    for name, r in (("first run (learns history)", first), (f"after {MISSED_DAYS} missed days", catch_up),
                    ("daily run (scheduler)", daily)):
        p = r["phases"]
        alerts = p.get("publish_anomaly", 0.0)
        detect = p.get("detect_anomalies", 0.0) + p.get("replay_detection", 0.0)
        print(f"  {name:27s} {r['seconds']:6.1f} s ({r['cpu_seconds']:.1f} s CPU)  peak RSS {r['peak_rss_mb']:5.0f} MB   "
              f"(load {p.get('load_detection_frame', 0.0):.1f} s, detect {detect:.1f} s, alerts {alerts:.1f} s, "
              f"rest {r['seconds'] - p.get('load_detection_frame', 0.0) - detect - alerts:.1f} s; "
              f"through {r['through']}: {r['new']} new, {r['updated']} updated, {r['posted']} posted)")
    print(f"  rolling z-score (ref)       {daily['baseline_seconds']:6.1f} s   {daily['baseline_fired']} series firing "
          f"on the last day (detection only, from the loaded frame)")
    ok = daily["seconds"] <= TARGET_SECONDS and daily["peak_rss_mb"] <= TARGET_RSS_MB
    print("  daily run within targets" if ok else "  daily run OUTSIDE targets")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
