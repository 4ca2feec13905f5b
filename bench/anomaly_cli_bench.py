"""Anomaly accuracy and replay time through the real command line, as the issue's procedure runs it.

On a fresh database per backend (SQLite; PostgreSQL when the test server is reachable):

    costbot ingest file costs.csv.gz --teams teams.yml
    costbot detect --replay SCORE_FROM..LAST --json --teams teams.yml > replay.json
    python ../shared/bench/score_anomalies.py labels.json replay.json
    costbot detect --as-of LAST --json --teams teams.yml     (one daily run, timed)

and, in the same run, the plain rolling-median z-score detector of bench/anomaly_bench.py (per
provider x account x service, 28-day median/MAD, z > 5 and > $50, firing days merged into runs: the
README's reference) scored on the same labels. It also replays the domain directly on the bench's
own frame (bench/anomaly_bench.py) and checks that the command line raised exactly the same
anomalies (key, detected_on, start, end): allocation by teams.yml, storage in micro-dollars, the
stored daily frame and the complete days must not change what is detected.

    .venv/bin/python bench/anomaly_cli_bench.py            # the whole bench, SQLite and PostgreSQL
    .venv/bin/python bench/anomaly_cli_bench.py --smoke    # the last 60 days scored, SQLite only

Targets: F1 >= 0.90, zero duplicates, median delay 0 days, replay <= 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.anomaly_bench import (  # noqa: E402  (the repository root is on the path first)
    BENCH_DIR,
    SCORER,
    SMOKE_DAYS,
    SMOKE_WARM_UP_DAYS,
    labels_from,
    line,
    load_shared_bench,
    replay_reports,
    rolling_zscore_reports,
    score,
)
from finops.model import DAY  # noqa: E402

COSTBOT = Path(sys.executable).parent / "costbot"
OUT_DIR = ROOT / "bench" / "out" / "cli"
REPLAY_TARGET_SECONDS = 60.0
DEFAULT_POSTGRES = os.environ.get("COSTBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def costbot(database_url: str, *args: str) -> tuple[str, float]:
    """Run one costbot command; (stdout, wall seconds). Exits with its stderr if it fails."""
    env = {**os.environ, "COSTBOT_DATABASE_URL": database_url}
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "COSTBOT_SOURCES"):
        env.pop(name, None)
    began = time.perf_counter()
    done = subprocess.run([str(COSTBOT), *args], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"costbot {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout, seconds


def _admin(server_url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                           password=url.password, dbname=url.database or "postgres", autocommit=True,
                           connect_timeout=3)


def postgres_problem(server_url: str) -> str | None:
    """Why the PostgreSQL path cannot run (None when it can)."""
    if not server_url:
        return "no --postgres URL"
    try:
        with _admin(server_url):
            return None
    except Exception as error:  # any reason is reported and the bench goes on with SQLite
        return f"{server_url} unreachable ({str(error).strip().splitlines()[0]})"


@contextlib.contextmanager
def fresh_database(kind: str, out: Path, server_url: str) -> Iterator[str]:
    """An empty database URL (the CLI migrates it), removed afterwards."""
    from sqlalchemy.engine import make_url

    if kind == "sqlite":
        path = out / f"bench-{os.getpid()}.db"
        path.unlink(missing_ok=True)
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"costbot_anomaly_bench_{os.getpid()}"
    with _admin(server_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin(server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def identity(report: dict) -> tuple[str, str, str, str | None]:
    return report["id"], report["detected_on"], report["start"], report["end"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="score the last 60 days only, SQLite only")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL",
                        help="PostgreSQL server for the postgres path ('' to skip; default: the test server)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where replay.json files and labels are written")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"targets: F1 >= 0.90, zero duplicates, median delay 0 days; replay <= {REPLAY_TARGET_SECONDS:.0f} s")

    daily, labels = load_shared_bench()
    last = daily[DAY].max().date()
    labels_path = BENCH_DIR / "labels.json"
    start = date.fromisoformat(labels["score_from"])
    if args.smoke:  # as bench/anomaly_bench.py --smoke: warm up on earlier days, score the last ones
        labels = labels_from(labels, last - timedelta(days=SMOKE_DAYS))
        labels_path = args.out / "labels-smoke.json"
        labels_path.write_text(json.dumps(labels, indent=1))
        start = date.fromisoformat(labels["score_from"]) - timedelta(days=SMOKE_WARM_UP_DAYS)
    window = f"{start.isoformat()}..{last.isoformat()}"
    print(f"shared anomaly bench: replay {window}, {len(labels['must_detect'])} must-detect labels")

    baseline = score(labels_path, rolling_zscore_reports(daily, start, last, merge_runs=True),
                     args.out / "baseline.json")
    domain, domain_seconds = replay_reports(daily, start, last)
    domain_score = score(labels_path, domain, args.out / "domain.json")

    kinds = ["sqlite"]
    problem = None if args.smoke else postgres_problem(args.postgres)
    if not args.smoke:
        if problem:
            print(f"  postgres path skipped: {problem}")
        else:
            kinds.append("postgres")
    teams = str(BENCH_DIR / "teams.yml")
    results = {}
    for kind in kinds:
        with fresh_database(kind, args.out, args.postgres) as url:
            _, ingest_seconds = costbot(url, "ingest", "file", str(BENCH_DIR / "costs.csv.gz"), "--teams", teams)
            out, replay_seconds = costbot(url, "detect", "--replay", window, "--json", "--teams", teams)
            # one daily run on the same store: the first, so it also learns the history before it
            daily_out, daily_seconds = costbot(url, "detect", "--as-of", last.isoformat(), "--json", "--teams", teams)
        path = args.out / f"replay-{kind}.json"
        path.write_text(out)
        reports = json.loads(out)
        done = subprocess.run([sys.executable, str(SCORER), str(labels_path), str(path)], capture_output=True,
                              text=True, check=True)
        result = json.loads(done.stdout)
        same = {identity(r) for r in reports} == {identity(r) for r in domain}
        results[kind] = (result, replay_seconds)
        print(line(f"costbot CLI ({kind})", result))
        print(f"    ingest {ingest_seconds:.1f} s, replay {replay_seconds:.1f} s "
              f"({replay_seconds / REPLAY_TARGET_SECONDS:.0%} of the {REPLAY_TARGET_SECONDS:.0f} s budget, "
              f"process start included); same anomalies as the domain replay: {'yes' if same else 'NO'} "
              f"({len(reports)} vs {len(domain)})")
        print(f"    one daily run (costbot detect --as-of {last}, the first: history learned, alerts rendered): "
              f"{daily_seconds:.1f} s, {len(json.loads(daily_out))} anomalies touched")
    print(line("domain replay", domain_score) + f"  ({domain_seconds:.1f} s in process)")
    print(line("z-score, runs (ref)", baseline))
    sqlite, seconds = results["sqlite"]
    print(f"CLI on SQLite: F1 {sqlite['f1']:.3f} vs rolling z-score {baseline['f1']:.3f} "
          f"(x{sqlite['f1'] / baseline['f1']:.2f}); duplicates {sqlite['duplicates']}; median delay "
          f"{sqlite['median_delay_days']} days; replay {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
