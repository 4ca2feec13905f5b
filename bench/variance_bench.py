"""Speed of ``costbot why "last quarter"`` on a large store, against the bare SQL it rests on.

Builds (once, cached) a synthetic store of 10,000 daily series x 730 days (7.3M ``cost_daily``
rows) on SQLite and on PostgreSQL, written straight into the production schema (migrations and
their triggers included; executemany into SQLite, COPY into PostgreSQL), with the monthly
roll-up built as the refresh job would. Then, on each backend:

- baselines: the bare SQL full-table sum of ``effective_micros`` (what reading every row costs),
  the bare SQL per-series sums of both quarters from the daily rows (what an answer without the
  roll-up would have to read), and a new process that only imports the CLI and its why command
  (the import floor);
- cold: ``costbot why "last quarter" --json --as-of 2026-11-16`` through the CLI entry point in a
  new process (interpreter, imports, migrations check, SQL, decomposition, JSON): wall time;
- warm: the same call repeated in that process; peak RSS (VmHWM) of the answering processes;
- the first answer after a whole month was restated (its roll-up is rebuilt);
- ack: the real app over HTTP on the store (fake Slack), two people asking again and again while
  signed ``/cost why`` slash commands are acked; GET /health is the HTTP floor.

Targets (issue 6): warm <= 2 s, cold <= 10 s, peak RSS <= 1.5 GB, ack < 1 s. The machine is
shared and noisy: compare each figure with its baselines from the same run.

    .venv/bin/python bench/variance_bench.py                   # full size, both backends
    .venv/bin/python bench/variance_bench.py --smoke           # 200 series x 400 days (~1 min: imports)
    .venv/bin/python bench/variance_bench.py --backend sqlite  # one backend only

Stores are kept between runs: SQLite files in ``--data-dir`` (default ``bench/out/variance``,
git-ignored), PostgreSQL databases ``costbot_bench_variance_v<N>_<series>x<days>_<schema>`` on the
server at ``--postgres`` (default ``$COSTBOT_BENCH_POSTGRES_URL`` or the local test server).
``<schema>`` is a fingerprint of the migration files, so a store built before a migration changed
is never reused (its tables would not be the code's); a store is also rebuilt when it is missing,
incomplete, from an older generator or when its tables and columns differ from the code's.
Building a store removes the older ones of the same size.

The cold runs and the import floor are measured in turns (floor, cold, floor, cold, ...) and
reported as medians, with the load average before and after, because the machine is shared: a
floor taken under another load than the cold runs would make their difference meaningless.
The ack run fails when any answer's chart did not reach the fake Slack, or when the fake saw a
call Slack would refuse.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from storage.db import Database

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 16)  # "last quarter" is Q3 2026 against Q2 2026, both inside the data
QUESTION = "last quarter"
PROBE = "why lsat quarter"  # answered with a one-line correction
TARGETS = {"warm": 2.0, "cold": 10.0, "rss_mb": 1536.0, "ack": 1.0}
GENERATOR_VERSION = 1  # bump when the synthetic data changes: cached stores are rebuilt
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SOURCE = "bench"


@dataclass(frozen=True)
class Size:
    series: int
    days: int

    @property
    def end(self) -> date:
        return AS_OF - timedelta(days=1)

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    @property
    def rows(self) -> int:
        return self.series * self.days

    @property
    def name(self) -> str:
        return f"v{GENERATOR_VERSION}_{self.series}x{self.days}_{schema_fingerprint()}"

    @property
    def family(self) -> str:
        """What every store of this size has in its name, whatever its generator or schema."""
        return f"_{self.series}x{self.days}"


def schema_fingerprint() -> str:
    """8 hex digits of a hash of the migration files: a new schema gets a new store."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "storage" / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:8]


FULL, SMOKE = Size(10_000, 730), Size(200, 400)


# --- the synthetic store ------------------------------------------------------------------------


def series_frame(size: Size) -> pd.DataFrame:
    """``cost_series`` rows: 20 teams (and unallocated), 40 services, 100 accounts, 12 regions,
    200 SKUs, one resource per series; 2 % are monthly fees (ChargeCategory Purchase)."""
    rng = np.random.default_rng(20261116)
    ids = np.arange(1, size.series + 1)
    teams = np.array([f"team-{i:02d}" for i in range(20)] + ["unallocated"])
    services = np.array([f"Service {i:02d}" for i in range(40)])
    regions = np.array(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1", "westeurope",
                        "eastus", "us-central1", "europe-west1", "global", "ap-northeast-1", "sa-east-1"])
    units = np.array(["Hrs", "GB-Mo", "Requests", "GB"])
    fee = ids % 50 == 0
    team = teams[np.minimum(rng.integers(0, 21, size.series), 20)]
    return pd.DataFrame({
        "id": ids, "key_hash": [f"{i:064x}" for i in ids],
        "provider_name": np.array(["AWS", "Microsoft", "Google Cloud"])[ids % 3],
        "billing_account_id": "bench-billing", "billing_currency": "USD",
        "sub_account_id": [f"acct-{i % 100:03d}" for i in ids], "sub_account_name": [f"account {i % 100:03d}" for i in ids],
        "service_name": services[rng.integers(0, 40, size.series)], "service_category": "Compute",
        "region_id": regions[rng.integers(0, len(regions), size.series)],
        "charge_category": np.where(fee, "Purchase", "Usage"),
        "sku_id": [f"sku-{i % 200:03d}" for i in ids], "resource_id": [f"res-{i:06d}" for i in ids],
        "consumed_unit": np.where(fee, "", units[ids % 4]), "pricing_unit": np.where(fee, "", units[ids % 4]),
        "tags": [json.dumps({"env": "prod", "team": str(t)}, separators=(",", ":")) for t in team],
        "team": team, "allocation_rule": "tag:team",
    })


def daily_chunks(size: Size, series: pd.DataFrame, chunk_days: int = 30) -> Iterator[pd.DataFrame]:
    """``cost_daily`` rows, ``chunk_days`` days at a time: a trend, weekly seasonality and noise;
    from 2026-07-01 team-07 uses 30 % more and Service 12 costs 10 % more per unit."""
    rng = np.random.default_rng(6)
    n = size.series
    base = rng.lognormal(3.0, 1.0, n)
    price = rng.uniform(0.01, 2.0, n)
    fee = (series["charge_category"] == "Purchase").to_numpy()
    team_07 = (series["team"] == "team-07").to_numpy()
    service_12 = (series["service_name"] == "Service 12").to_numpy()
    ids = series["id"].to_numpy()
    story_start = pd.Timestamp("2026-07-01")
    for first in range(0, size.days, chunk_days):
        days = pd.date_range(size.start + timedelta(days=first), periods=min(chunk_days, size.days - first))
        frames = []
        for day in days:
            years = (day - pd.Timestamp(size.start)).days / 365.25
            usage = base * (1 + 0.2 * years) * (0.85 if day.day_of_week >= 5 else 1.0) * rng.normal(1, 0.05, n)
            unit_price = price.copy()
            if day >= story_start:
                usage = np.where(team_07, usage * 1.3, usage)
                unit_price = np.where(service_12, unit_price * 1.1, unit_price)
            quantity = usage / price
            cost = quantity * unit_price
            cost = np.where(fee, np.where(day.day == 1, base * 30, 0.0), cost)
            micros = np.rint(cost * 1e6).astype(np.int64)
            frames.append(pd.DataFrame({
                "source": SOURCE, "day": day.date().isoformat(), "series_id": ids, "billed_micros": micros,
                "effective_micros": micros, "list_micros": np.rint(micros * 1.2).astype(np.int64),
                "consumed_quantity": np.where(fee, np.nan, quantity), "pricing_quantity": np.where(fee, np.nan, quantity)}))
        yield pd.concat(frames, ignore_index=True)


def _daily_indexes():
    from storage.tables.costs import CostDaily

    return list(CostDaily.__table__.indexes)  # type: ignore[attr-defined]


def build(url: str, size: Size) -> None:
    """Write the store through the production schema (migrations, triggers included), then build
    the monthly roll-up as the refresh job would. Secondary indexes are created after the load."""
    from storage.db import Database
    from storage.variance import VarianceStore

    database = Database(url)
    database.upgrade()
    series = series_frame(size)
    indexes = _daily_indexes()
    columns = ["source", "day", "series_id", "billed_micros", "effective_micros", "list_micros",
               "consumed_quantity", "pricing_quantity"]
    with database.engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
        conn.exec_driver_sql(f"INSERT INTO cost_series ({', '.join(series.columns)}) "
                             f"VALUES ({', '.join('?' if database.is_sqlite else '%s' for _ in series.columns)})",
                             list(series.itertuples(index=False, name=None)))
        raw = conn.connection.driver_connection
        for chunk in daily_chunks(size, series):
            if database.is_sqlite:
                rows = chunk.astype(object).where(chunk.notna(), None).itertuples(index=False, name=None)
                raw.executemany(f"INSERT INTO cost_daily ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                list(rows))
            else:
                text = chunk.to_csv(index=False, header=False, na_rep="")
                with raw.cursor() as cursor, cursor.copy(f"COPY cost_daily ({', '.join(columns)}) FROM STDIN "
                                                         "WITH (FORMAT csv)") as copy:
                    copy.write(text)
            print(f"  ... {chunk['day'].iloc[-1]}", end="\r", flush=True)
        for index in indexes:
            index.create(conn)
        conn.exec_driver_sql("ANALYZE")
    from storage.costs import CostStore

    CostStore(database).set_freshness(SOURCE, last_day=size.end, complete_through=size.end)
    VarianceStore(database).refresh()
    database.dispose()


def schema_matches(engine) -> bool:
    """True when the store has exactly the code's tables, each with exactly the code's columns."""
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    import storage.tables  # noqa: F401  (registers every table on the metadata)

    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    for name, table in SQLModel.metadata.tables.items():
        if name not in present or {c["name"] for c in inspector.get_columns(name)} != set(table.columns.keys()):
            return False
    return True


class Stores:
    """The cached stores: a SQLite file in ``data_dir``, a PostgreSQL database on the server."""

    def __init__(self, data_dir: Path, postgres_url: str) -> None:
        self.data_dir, self.postgres_url = data_dir, postgres_url

    def url(self, backend: str, size: Size) -> str:
        from sqlalchemy.engine import make_url

        if backend == "sqlite":
            return f"sqlite:///{self.data_dir / f'variance-{size.name}.db'}"
        return make_url(self.postgres_url).set(database=f"costbot_bench_variance_{size.name}") \
            .render_as_string(hide_password=False)

    def postgres_problem(self) -> str | None:
        try:
            with self._admin():
                return None
        except Exception as error:  # any reason it cannot connect is reported, and SQLite goes on
            return f"{self.postgres_url} unreachable ({str(error).strip().splitlines()[0]})"

    def _admin(self):
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.postgres_url)
        return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                               password=url.password, dbname=url.database or "postgres", autocommit=True,
                               connect_timeout=3)

    def ensure(self, backend: str, size: Size) -> tuple[str, float | None]:
        """The store's URL, built first unless a complete one is cached; and the build time."""
        url = self.url(backend, size)
        if self._complete(backend, url, size):
            return url, None
        print(f"building the {backend} store ({size.series:,} series x {size.days} days = {size.rows:,} rows)...",
              flush=True)
        self._remove_older(backend, size)
        self._reset(backend, url)
        started = time.perf_counter()
        build(url, size)
        return url, time.perf_counter() - started

    def _complete(self, backend: str, url: str, size: Size) -> bool:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        if backend == "sqlite":
            if not Path(make_url(url).database).is_file():
                return False
        else:
            with self._admin() as admin:
                name = make_url(url).database
                if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                    return False
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            if not schema_matches(engine):
                return False
            with engine.connect() as conn:
                rows, last = conn.execute(text("SELECT count(*), max(day) FROM cost_daily")).one()
                stale = conn.execute(text("SELECT count(*) FROM cost_monthly_stale")).scalar()
        except Exception:  # a half-built or older store: build it again
            return False
        finally:
            engine.dispose()
        return rows == size.rows and str(last) == size.end.isoformat() and stale == 0

    def _remove_older(self, backend: str, size: Size) -> None:
        """Drop the stores of this size built by another generator or schema (GBs each)."""
        from sqlalchemy.engine import make_url

        current = make_url(self.url(backend, size)).database
        if backend == "sqlite":
            for path in self.data_dir.glob(f"variance-v*{size.family}*.db*"):
                if not str(path).startswith(str(current)):
                    path.unlink(missing_ok=True)
            return
        with self._admin() as admin:
            names = [row[0] for row in admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"costbot_bench_variance_v%{size.family}%",))]
            for name in names:
                if name != current:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _reset(self, backend: str, url: str) -> None:
        from sqlalchemy.engine import make_url

        if backend == "sqlite":
            path = Path(make_url(url).database)
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        name = make_url(url).database
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')


# --- measurements -------------------------------------------------------------------------------


def timed_sql(url: str, sql: str, repeats: int = 3) -> float:
    """The best of ``repeats`` runs of a bare SQL statement (all rows fetched)."""
    from sqlalchemy import text

    from storage.db import Database

    database = Database(url)
    best = float("inf")
    with database.engine.connect() as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            conn.execute(text(sql)).fetchall()
            best = min(best, time.perf_counter() - started)
    database.dispose()
    return best


def by_series_sql() -> str:
    """What a store without the roll-up sums for the question: both quarters, per series."""
    return ("SELECT series_id, sum(effective_micros), sum(pricing_quantity) FROM cost_daily "
            "WHERE day BETWEEN '2026-07-01' AND '2026-09-30' GROUP BY series_id "
            "UNION ALL SELECT series_id, sum(effective_micros), sum(pricing_quantity) FROM cost_daily "
            "WHERE day BETWEEN '2026-04-01' AND '2026-06-30' GROUP BY series_id")


def month_rebuild_seconds(url: str) -> float:
    """The first question after a whole month was restated: that month's roll-up is rebuilt."""
    from sqlalchemy import text

    from storage.db import Database
    from storage.variance import VarianceStore

    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO cost_monthly_stale (month) VALUES ('2026-08-01')"))
    started = time.perf_counter()
    VarianceStore(database).refresh()
    seconds = time.perf_counter() - started
    database.dispose()
    return seconds


def run_child(kind: str, url: str, *extra: str) -> tuple[dict, float]:
    """A measurement in a fresh interpreter; returns its JSON report and the wall time around it."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--url", url, *extra], stdout=subprocess.PIPE,
                          check=False, cwd=ROOT, env={**os.environ, "COSTBOT_DATABASE_URL": url})
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"the {kind} child failed with exit code {done.returncode}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1]), wall


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: the current address space only, not the parent's before exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def ask_cli() -> dict:
    """``costbot why "last quarter" --json --as-of ...`` through the CLI's entry point, stdout captured."""
    from bot.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["why", QUESTION, "--json", "--as-of", AS_OF.isoformat()])
    if code:
        raise SystemExit(f"costbot why exited {code}")
    return json.loads(out.getvalue())


def child_answers(repeats: int) -> dict:
    """One cold answer (this process is new), then ``repeats`` warm ones in the same process."""
    answer = ask_cli()
    top = answer["contributors"][0]
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        ask_cli()
        seconds.append(time.perf_counter() - started)
    return {"rss_mb": peak_rss_mb(), "warm": seconds, "delta": answer["delta"], "top": top["label"],
            "top_delta": top["delta"], "lines": len(answer["contributors"])}


def child_imports() -> dict:
    """The floor of a new ``costbot why`` process: the interpreter and the imports of the CLI and
    of the why command (the CLI imports only the command it runs)."""
    import bot.cli

    bot.cli.build_parser(["why", QUESTION])
    return {"rss_mb": peak_rss_mb()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# The store's own owners (series_frame: tag team=team-NN, the rest unallocated) as a teams.yml. The
# bot re-allocates stored costs to its teams.yml at start-up: any other rules (the test harness's)
# would re-own the cached store, and every later run would answer about other teams.
BENCH_TEAMS_YAML = 'default_channel: "#finops"\nteams:\n' + "".join(
    f'  - name: team-{i:02d}\n    channel: "#team-{i:02d}"\n    match:\n      - tag: {{team: team-{i:02d}}}\n'
    for i in range(20))


def restore_owners(url: str) -> int | None:
    """Give the store's series the generator's owners again when they follow other rules (a run
    from before the bot was started with :data:`BENCH_TEAMS_YAML` re-owned them to the harness's
    teams); None when they already follow the bench's teams, else how many series changed."""
    from bot.services.ownership import reallocate_stored_costs
    from finops.teams import parse_teams
    from storage.costs import CostStore
    from storage.db import Database

    database = Database(url)
    try:
        return reallocate_stored_costs(CostStore(database), parse_teams(BENCH_TEAMS_YAML, file="teams.yml"))
    finally:
        database.dispose()


def _forget_slack(database: Database) -> None:
    """Remove what a fake Slack left in the store: the charts' outbox rows and the conversation
    IDs remembered (each run's fake numbers its DMs anew: an ID kept from an earlier one is
    refused as channel_not_found)."""
    from sqlalchemy import text

    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox_message WHERE key LIKE :prefix"), {"prefix": "why:%"})
        conn.execute(text("DELETE FROM slack_channel"))


def child_ack(seconds: float, askers: int) -> dict:
    """The real app over HTTP on the bench store (fake Slack): ``askers`` people keep asking
    ``/cost why last quarter`` (each asks again as soon as its answer arrived) while a prober, twice
    a second and only while some answer is being computed, sends ``/cost why`` with a typo (its ack
    is measured: the dispatcher acks before it reads the question, so it is the ack of any
    ``/cost why``, and its one-line correction adds no answer to the load) and GET /health (the
    HTTP floor)."""
    import handlers.why
    from storage.db import Database
    from tests.harness import start_bot
    from tests.slack.fake_slack import FakeSlack

    asked_at = datetime.combine(AS_OF, clock(9, 0), tzinfo=UTC)
    database = Database(os.environ["COSTBOT_DATABASE_URL"])
    acks: list[float] = []
    health: list[float] = []
    answers: list[float] = []
    probe_urls: list[str] = []
    in_flight = [0]
    lock = threading.Lock()
    _forget_slack(database)  # a run stopped half-way may have left some
    with FakeSlack() as slack:
        for i in range(askers + 1):
            slack.add_user(f"U{i}", name=f"asker{i}")
        bot = start_bot(database, slack, teams_yaml=BENCH_TEAMS_YAML, now=lambda: asked_at)
        deadline = time.monotonic() + seconds
        try:
            def asker(user: str) -> None:
                while time.monotonic() < deadline:
                    url = slack.response_url()
                    with lock:
                        in_flight[0] += 1
                    started = time.perf_counter()
                    bot.client.slash(f"why {QUESTION}", user_id=user, response_url=url)
                    while not slack.response_url_calls(url):
                        time.sleep(0.01)
                    answers.append(time.perf_counter() - started)
                    with lock:
                        in_flight[0] -= 1

            threads = [threading.Thread(target=asker, args=(f"U{i + 1}",)) for i in range(askers)]
            for thread in threads:
                thread.start()
            while time.monotonic() < deadline:
                with lock:
                    busy = in_flight[0] > 0
                if busy:
                    probe_urls.append(slack.response_url())
                    response = bot.client.slash(PROBE, user_id="U0", response_url=probe_urls[-1])
                    acks.append(response.elapsed)
                    started = time.perf_counter()
                    with urllib.request.urlopen(bot.url + "/health", timeout=10) as reply:
                        reply.read()
                    health.append(time.perf_counter() - started)
                time.sleep(0.5)
            for thread in threads:
                thread.join()
            # Every answer, then every chart, before the fake stops.
            while not all(slack.response_url_calls(url) for url in probe_urls) and time.monotonic() < deadline + 120:
                time.sleep(0.05)
            handlers.why.CHART_WORKERS.shutdown(wait=True)
            charts, violations = len(slack.files()), list(slack.violations)
        finally:
            bot.stop()
    _forget_slack(database)  # not part of the bench store
    database.dispose()
    return {"acks": acks, "health": health, "answers": answers, "charts": charts, "violations": violations}


CHILDREN = {"answers": lambda args: child_answers(args.repeats), "imports": lambda args: child_imports(),
            "ack": lambda args: child_ack(args.seconds, args.askers)}


# --- the report ---------------------------------------------------------------------------------


def measure_backend(backend: str, url: str, build_seconds: float | None, args: argparse.Namespace) -> dict:
    print(f"measuring {backend}...", flush=True)
    restored = restore_owners(url)
    if restored:
        print(f"  ({restored:,} series re-owned to the generator's teams first)", flush=True)
    result: dict = {"build": build_seconds}
    result["full_sum"] = timed_sql(url, "SELECT sum(effective_micros) FROM cost_daily")
    result["by_series"] = timed_sql(url, by_series_sql())
    result["rebuild_month"] = month_rebuild_seconds(url)
    result["load_before"] = os.getloadavg()
    # In turns: the import floor, then a cold answer, so that both see the same load. The first
    # answering process also answers again and again (warm); a cold answer is its wall time
    # without those. The other processes answer once.
    floors, runs = [], []
    for i in range(args.cold):
        floors.append(run_child("imports", url))
        runs.append(run_child("answers", url, "--repeats", str(args.warm if i == 0 else 0)))
    result["imports"] = [wall for _, wall in floors]
    result["imports_rss"] = max(report["rss_mb"] for report, _ in floors)
    result["warm"] = runs[0][0]["warm"]
    result["cold"] = [wall - sum(report["warm"]) for report, wall in runs]
    result["rss"] = max(report["rss_mb"] for report, _ in runs)
    result["answer"] = runs[0][0]
    ack, _ = run_child("ack", url, "--seconds", str(args.ack_seconds), "--askers", str(args.askers))
    result.update(ack)
    result["load_after"] = os.getloadavg()
    return result


def report(results: dict[str, dict], size: Size, skipped: dict[str, str]) -> bool:
    ok = True
    print(f"\n{size.series:,} series x {size.days} days = {size.rows:,} daily rows; "
          f'costbot why "{QUESTION}" --json --as-of {AS_OF} (Q3 2026 vs Q2 2026)')
    for backend, r in results.items():
        warm, cold = statistics.median(r["warm"]), statistics.median(r["cold"])
        ack_max = max(r["acks"]) if r["acks"] else float("nan")
        rss = r["rss"]
        answer = r["answer"]
        print(f"\n[{backend}]  built in {r['build']:.0f} s" if r["build"] else f"\n[{backend}]  (cached store)")
        print(f"  load average (1, 5, 15 min) before {_load(r['load_before'])}, after {_load(r['load_after'])} "
              f"on {os.cpu_count()} CPUs")
        print(f"  answer: delta {answer['delta']:+,.2f}; top line {answer['top']} {answer['top_delta']:+,.2f}; "
              f"{answer['lines']} lines")
        print("  baselines (same run):")
        print(f"    bare SQL full-table sum of effective_micros         {r['full_sum']:7.2f} s")
        print(f"    bare SQL per-series sums of both quarters (daily)   {r['by_series']:7.2f} s")
        floor = statistics.median(r["imports"])
        print(f"    new process: interpreter + why's imports (median)   {floor:7.2f} s  "
              f"({r['imports_rss']:.0f} MB; in turns with the cold runs)")
        print("  costbot why:")
        print(f"    warm (in process, median of {len(r['warm'])})                  {warm:7.2f} s  "
              f"target <= {TARGETS['warm']:.0f} s: {_verdict(warm <= TARGETS['warm'])}; "
              f"{warm / r['by_series']:.2f}x the per-series SQL, {warm / r['full_sum']:.2f}x the full sum")
        print(f"    cold (new process, median of {len(r['cold'])})                 {cold:7.2f} s  "
              f"target <= {TARGETS['cold']:.0f} s: {_verdict(cold <= TARGETS['cold'])}; "
              f"{cold - floor:.2f} s over the import floor")
        print(f"    peak RSS (the answering processes)                 {rss:7.0f} MB "
              f"target <= {TARGETS['rss_mb']:.0f} MB: {_verdict(rss <= TARGETS['rss_mb'])}")
        print(f"    first answer after a whole month was restated      +{r['rebuild_month']:6.2f} s (that month's roll-up)")
        if r["acks"]:
            print(f"  Slack ack while answers are computed ({len(r['acks'])} acks, {len(r['answers'])} answers, "
                  f"answer p50 {statistics.median(r['answers']):.2f} s):")
            print(f"    /cost why ack   p50 {statistics.median(r['acks']) * 1000:6.0f} ms  p99 "
                  f"{percentile(r['acks'], 99) * 1000:6.0f} ms  max {ack_max * 1000:6.0f} ms  "
                  f"target < 1 s: {_verdict(ack_max < TARGETS['ack'])}")
            print(f"    GET /health     p50 {statistics.median(r['health']) * 1000:6.0f} ms  p99 "
                  f"{percentile(r['health'], 99) * 1000:6.0f} ms  (floor)")
        delivered = r["charts"] == len(r["answers"]) and not r["violations"]
        print(f"    charts delivered {r['charts']} of {len(r['answers'])} answers; calls Slack would refuse: "
              f"{len(r['violations'])}: {_verdict(delivered, 'ok', 'FAILED')}")
        for violation in r["violations"][:5]:
            print(f"      {violation}")
        ok &= warm <= TARGETS["warm"] and cold <= TARGETS["cold"] and rss <= TARGETS["rss_mb"] and \
            bool(r["acks"]) and ack_max < TARGETS["ack"] and delivered
    for backend, reason in skipped.items():
        print(f"\n[{backend}] not measured: {reason}")
    return ok


def _verdict(met: bool, yes: str = "met", no: str = "MISSED") -> str:
    return yes if met else no


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE.series} series x {SMOKE.days} days, seconds")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "out" / "variance",
                        help="where built SQLite stores are kept between runs (default: bench/out/variance)")
    parser.add_argument("--postgres", default=os.environ.get("COSTBOT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="a PostgreSQL server URL where this user may CREATE DATABASE")
    parser.add_argument("--cold", type=int, default=3, help="cold runs (new processes)")
    parser.add_argument("--warm", type=int, default=5, help="warm runs (one process)")
    parser.add_argument("--ack-seconds", type=float, default=20.0, help="how long to measure acks")
    parser.add_argument("--askers", type=int, default=2, help="people asking at the same time during the ack run")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=20.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return 0
    size = SMOKE if args.smoke else FULL
    if args.smoke:
        args.cold, args.warm, args.ack_seconds = 1, 2, 2.0
    stores = Stores(args.data_dir, args.postgres)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results, skipped = {}, {}
    for backend in backends:
        if backend == "postgres" and (problem := stores.postgres_problem()):
            skipped[backend] = problem
            continue
        url, build_seconds = stores.ensure(backend, size)
        results[backend] = measure_backend(backend, url, build_seconds, args)
    return 0 if report(results, size, skipped) else 1


if __name__ == "__main__":
    sys.exit(main())
