"""Cost file ingestion speed and memory, against a pyarrow floor measured in the same run.

Generates a deterministic FOCUS file shaped like a real hourly export: 2,000 series (resource x
SKU x account x tags), one row per series and *hour*, so 1,000,000 rows hold about 42,000 daily
aggregates (24 line items per series-day, as AWS's and Azure's hourly FOCUS exports have); a few
series are credits, purchases and tax. CSV.gz with text timestamps and Parquet with typed ones.
Then measures for each format and size, each in a fresh child process (which reports its peak
RSS from /proc; imports are done before the clock starts, on every path):

- floor: ``pyarrow`` reads the columns the ingest reads (as the same types) and groups them to
  daily series, nothing else; the targets are ratios to it;
- floor-dict (Parquet): the same with the text columns kept in Parquet's dictionary encoding, as
  the ingest reads them: a stricter floor, printed for comparison;
- ours:  :func:`ingest_files` (``read_daily_costs``: stream in chunks, normalize, sum per chunk,
  sum across chunks) producing the final daily cost frame;
- chunks: the same stream drained through ``read_cost_files`` as pandas frames, concatenated and
  summed with ``finops.model.aggregate_daily``, for comparison;
- sqlite, postgres: the whole ``costbot ingest file PATH --teams teams.yml`` command (read,
  allocate to 8 teams and a shared pool, replace the source in one transaction, freshness, the
  ingest-run record) into a fresh, migrated database; PostgreSQL is skipped with a note when
  unreachable. The stored totals and daily rows are checked against the floor's.

Prints wall time, rows/s, peak RSS and the ratio to the floor, at two sizes to show growth; CPU
seconds too, which a busy shared machine disturbs less than wall time.
Targets (issue 3, on a 2-core machine), for the whole command: CSV.gz <= 2.5x floor,
Parquet <= 2x floor, peak RSS <= 1 GB.

    .venv/bin/python bench/ingest_bench.py            # 1,000,000 and 250,000 rows
    .venv/bin/python bench/ingest_bench.py --smoke    # 20,000 rows, a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finops.model import DIMENSIONS, aggregate_daily  # noqa: E402
from finops.sources import focus_files  # noqa: E402
from finops.sources.files import read_cost_files, read_daily_costs  # noqa: E402

SERIES = 2_000
HOURS_PER_DAY = 24
TARGETS = {"csv.gz": 2.5, "parquet": 2.0}
RSS_TARGET_MB = 1024
DEFAULT_POSTGRES = os.environ.get("COSTBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEAMS_YAML = """\
default_channel: "#finops"
mandatory_tags: [team, env]
teams:
""" + "".join(f"""  - name: {team}
    channel: "#team-{team}"
    match:
      - tag: {{team: {team}}}
      - sub_account_id: "{111222330000 + i:012d}"
""" for i, team in enumerate(["payments", "search", "data", "web", "ml", "platform", "identity"])) + """\
shared_costs:
  - name: shared-network
    match:
      - service: Service 40
"""


def ingest_files(paths: list[str]) -> pd.DataFrame:
    """The measured path: cost files to the final daily frame (storage writes can be added here)."""
    return read_daily_costs(paths)


# --- data ---------------------------------------------------------------------------------------


def generate(rows: int, out: Path) -> dict[str, Path]:
    """A FOCUS file of ``rows`` rows (2,000 series, one row each per hour, hour after hour), as
    CSV.gz and Parquet.

    Deterministic, so files already in ``out`` are reused.
    """
    paths = {"csv.gz": out / f"focus_hourly_{rows}.csv.gz", "parquet": out / f"focus_hourly_{rows}.parquet"}
    if all(p.exists() for p in paths.values()):
        return paths
    hours = -(-rows // SERIES)
    rng = np.random.default_rng(20240601)
    series = np.arange(SERIES)
    providers = np.array(["AWS", "Microsoft", "Google Cloud"])[series % 3]
    accounts = np.array([f"{111222330000 + (s * 37) % 120:012d}" for s in series])
    services = np.array([f"Service {s % 41}" for s in series])
    categories = np.array(["Compute", "Storage", "Databases", "Networking", "Analytics"])[series % 5]
    regions = np.array(["us-east-1", "eu-west-1", "westeurope", "us-central1", "ap-south-1", "global"])[series % 6]
    teams = np.array(["payments", "search", "data", "web", "ml", "platform", "identity", ""])
    tags = np.array(["" if not teams[s % 8] else
                     json.dumps({"team": str(teams[s % 8]), "env": ["prod", "dev", "staging"][s % 3],
                                 "cost-center": f"cc-{s % 13}"}) for s in series])
    charge = np.where(series % 97 == 0, "Credit", np.where(series % 89 == 0, "Purchase",
                                                           np.where(series % 83 == 0, "Tax", "Usage")))
    base = rng.lognormal(2.0, 1.6, SERIES) * np.where(charge == "Credit", -0.05, 1.0)
    row_series = np.tile(series, hours)[:rows]
    row_hour = np.repeat(np.arange(hours), SERIES)[:rows]
    row_day = row_hour // HOURS_PER_DAY
    seasonal = 1.0 - 0.25 * (((row_day + 3) % 7) >= 5)
    billed = np.round(base[row_series] / HOURS_PER_DAY * seasonal * rng.lognormal(0.0, 0.15, len(row_series)), 6)
    effective = np.round(billed * np.where(series % 4 == 0, 0.72, 1.0)[row_series], 6)
    quantity = np.round(np.abs(billed) * 7.3, 4)
    start = np.datetime64("2024-01-01T00:00:00", "s") + row_hour.astype("timedelta64[h]")
    month = start.astype("datetime64[M]")
    per_series = {
        "BillingAccountId": np.array(["123456789012", "enrollment-8611537", "01ABCD-234567-89EFGH"])[series % 3],
        "BillingAccountName": np.array(["Example Corp", "Example EA", "Example GCP"])[series % 3],
        "BillingCurrency": np.full(SERIES, "USD"),
        "ChargeCategory": charge, "ChargeFrequency": np.where(charge == "Usage", "Usage-Based", "One-Time"),
        "ConsumedUnit": np.array(["Hours", "GB-Mo", "Requests"])[series % 3],
        "PricingUnit": np.array(["Hours", "GB-Mo", "Requests"])[series % 3],
        "ProviderName": providers, "PublisherName": providers, "InvoiceIssuerName": providers,
        "RegionId": regions, "RegionName": regions, "ServiceName": services, "ServiceCategory": categories,
        "SubAccountId": accounts, "SubAccountName": np.char.add("account-", accounts),
        "ResourceId": np.array([f"arn:aws:ec2:{regions[s]}:{accounts[s]}:instance/i-{s:017x}" for s in series]),
        "SkuId": np.array([f"SKU{(s * 7919) % 600:05d}" for s in series]),
        "Tags": tags,
    }
    # Strings are built in arrow from each series' value (numpy fixed-width strings of a million
    # rows would be slow and large).
    take = pa.array(row_series)
    table = pa.table({
        "BillingPeriodStart": month.astype("datetime64[s]"),
        "BillingPeriodEnd": (month + 1).astype("datetime64[s]"),
        "ChargePeriodStart": start, "ChargePeriodEnd": start + np.timedelta64(1, "h"),
        **{name: pc.take(pa.array(values.tolist(), pa.string()), take) for name, values in per_series.items()},
        "BilledCost": billed, "EffectiveCost": effective, "ListCost": np.round(np.abs(billed) * 1.18, 6),
        "ContractedCost": effective, "ConsumedQuantity": quantity, "PricingQuantity": quantity,
    })
    stamps = {c: pa.timestamp("s", tz="UTC") for c in ("BillingPeriodStart", "BillingPeriodEnd",
                                                        "ChargePeriodStart", "ChargePeriodEnd")}
    typed = table.cast(pa.schema([pa.field(f.name, stamps.get(f.name, f.type)) for f in table.schema]))
    out.mkdir(parents=True, exist_ok=True)
    texts = table.set_column(
        table.schema.get_field_index("ChargePeriodStart"), "ChargePeriodStart",
        pc.strftime(typed["ChargePeriodStart"], format="%Y-%m-%dT%H:%M:%SZ"))
    with pa.CompressedOutputStream(str(paths["csv.gz"]), "gzip") as stream:
        pa_csv.write_csv(texts, stream)
    pq.write_table(typed, paths["parquet"], row_group_size=128 * 1024)
    return paths


# --- measurements (run in a child process) ------------------------------------------------------


def floor_dictionary(path: str) -> dict[str, float]:
    """A stricter Parquet floor: the same, with the text columns kept in Parquet's dictionary
    encoding (as the ingest reads them) and the group-by on those dictionaries."""
    return floor(path, dictionary=True)


def floor(path: str, *, dictionary: bool = False) -> dict[str, float]:
    """pyarrow reads the columns the ingest reads (the FOCUS read plan's, as the same types: text
    as strings, amounts as float64) and groups them to daily series: nothing else.

    Reading every column of the file would inflate the floor (the generated file carries a dozen
    FOCUS columns the ingest has no use for: names, periods, ContractedCost).
    """
    columns = pq.read_schema(path).names if path.endswith(".parquet") else pa_csv.open_csv(path).schema.names
    plan = focus_files.plan(columns, file=path)
    if path.endswith(".parquet"):
        schema = pq.read_schema(path)
        texts = [name for name in (*plan.texts, *plan.nested) if pa.types.is_string(schema.field(name).type)]
        table = pq.read_table(path, columns=list(plan.columns), read_dictionary=texts if dictionary else None)
        if dictionary:
            table = table.unify_dictionaries()  # each row group has its own; the group-by needs one
    else:
        types = {name: pa.float64() for name in plan.numbers} | {name: pa.string() for name in (*plan.texts, *plan.nested)}
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(include_columns=list(plan.columns),
                                                                           column_types=types))
    day = table["ChargePeriodStart"]
    day = pc.cast(day, pa.date32()) if pa.types.is_timestamp(day.type) else pc.utf8_slice_codeunits(day, 0, 10)
    keys = [d for d in DIMENSIONS]
    summed = table.select([*keys, "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity",
                           "PricingQuantity"]).append_column("day", day).group_by(["day", *keys]).aggregate(
        [(c, "sum") for c in ("BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "PricingQuantity")])
    return {"rows": table.num_rows, "groups": summed.num_rows,
            "effective": pc.sum(summed["EffectiveCost_sum"]).as_py()}


def ours(path: str) -> dict[str, float]:
    frame = ingest_files([path])
    return {"rows": None, "groups": len(frame), "effective": float(frame["EffectiveCost"].sum())}


def chunks(path: str) -> dict[str, float]:
    """The same stream taken chunk by chunk as pandas frames, then concatenated and summed with
    finops.model.aggregate_daily: what a caller of read_cost_files would do by hand."""
    frame = aggregate_daily(pd.concat([c.frame for c in read_cost_files([path])], ignore_index=True))
    return {"rows": None, "groups": len(frame), "effective": float(frame["EffectiveCost"].sum())}


def full_ingest(path: str) -> dict[str, float]:
    """``costbot ingest file PATH`` into the database of $COSTBOT_DATABASE_URL (teams: $COSTBOT_TEAMS)."""
    from bot.cli import main as costbot

    with contextlib.redirect_stdout(io.StringIO()):
        code = costbot(["ingest", "file", path])
    if code:
        raise SystemExit(f"costbot ingest file {path} exited {code}")
    return {"rows": None}


def stored(url: str) -> dict[str, float]:
    """What the command left in the database: daily rows and the effective total."""
    from storage.costs import CostStore
    from storage.db import Database

    database = Database(url)
    store = CostStore(database)
    result = {"groups": len(store.grouped_costs(by=["series_id", "day"])),
              "effective": float(store.totals()["EffectiveCost"])}
    database.dispose()
    return result


def _import_the_app() -> None:
    """Import what the command imports, so the clock measures the work and not module loading."""
    import bot.cli

    bot.cli.build_parser()


MEASURED = {"floor": floor, "floor-dict": floor_dictionary, "ours": ours, "chunks": chunks, "sqlite": full_ingest, "postgres": full_ingest}
PREPARE = {"sqlite": _import_the_app, "postgres": _import_the_app}
DATABASE_KINDS = ("sqlite", "postgres")


def peak_rss_mb() -> float:
    """This process's peak RSS. /proc's VmHWM belongs to the current address space; getrusage's
    maxrss on Linux also counts the parent's memory this child was forked from before exec."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(kind: str, path: str) -> None:
    if kind in PREPARE:
        PREPARE[kind]()
    started, cpu = time.perf_counter(), cpu_seconds()
    result = MEASURED[kind](path)
    result["seconds"] = time.perf_counter() - started
    result["cpu"] = cpu_seconds() - cpu
    result["rss_mb"] = peak_rss_mb()
    if kind in DATABASE_KINDS:
        result.update(stored(os.environ["COSTBOT_DATABASE_URL"]))
    print(json.dumps(result))


def measure(kinds: list[str], path: Path, repeat: int, databases: Databases) -> dict[str, dict[str, float]]:
    """Per kind, the fastest of ``repeat`` runs (and the largest peak RSS), each in a fresh
    interpreter (and, for the database paths, into a fresh database). The kinds take turns within
    each round, so a busy spell on the shared machine hits them alike, not one kind's runs."""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(repeat):
        for kind in kinds:
            if kind not in DATABASE_KINDS:
                runs[kind].append(measure_once(kind, path))
                continue
            with databases.fresh(kind) as url:
                runs[kind].append(measure_once(kind, path, {"COSTBOT_DATABASE_URL": url,
                                                            "COSTBOT_TEAMS": str(databases.teams)}))
    best = {kind: min(found, key=lambda run: run["seconds"]) for kind, found in runs.items()}
    return {kind: {**best[kind], "rss_mb": max(run["rss_mb"] for run in runs[kind])} for kind in kinds}


def measure_once(kind: str, path: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run one measurement in a fresh interpreter, which reports its time and peak RSS."""
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], stdout=subprocess.PIPE,
                          check=False, env={**os.environ, **(env or {})})
    if done.returncode:
        raise SystemExit(f"{kind} on {path} failed with exit code {done.returncode}")
    return json.loads(done.stdout)


class Databases:
    """Fresh, migrated databases for the database paths: a SQLite file, or a PostgreSQL database
    created on the server at ``postgres_url`` and dropped afterwards."""

    def __init__(self, out: Path, postgres_url: str | None) -> None:
        self.out, self.postgres_url, self.count = out, postgres_url, 0
        self.teams = out / "teams.yml"
        self.teams.write_text(TEAMS_YAML)

    def postgres_problem(self) -> str | None:
        """Why PostgreSQL cannot be measured (None when it can)."""
        if not self.postgres_url:
            return "no --postgres URL"
        try:
            with self._admin():
                return None
        except Exception as error:  # the bench reports any reason it cannot connect and goes on
            return f"{self.postgres_url} unreachable ({str(error).strip().splitlines()[0]})"

    def _admin(self):
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.postgres_url)
        return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                               password=url.password, dbname=url.database or "postgres", autocommit=True,
                               connect_timeout=3)

    @contextlib.contextmanager
    def fresh(self, kind: str):
        from sqlalchemy.engine import make_url

        from storage.db import Database

        self.count += 1
        if kind == "sqlite":
            path = self.out / f"bench-{os.getpid()}-{self.count}.db"
            url = f"sqlite:///{path}"
        else:
            name = f"costbot_bench_{os.getpid()}_{self.count}"
            with self._admin() as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            url = make_url(self.postgres_url).set(database=name).render_as_string(hide_password=False)
        database = Database(url)
        database.upgrade()
        database.dispose()
        try:
            yield url
        finally:
            if kind == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            else:
                with self._admin() as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=250_000)
    parser.add_argument("--out", type=Path, help="where to write the generated files (default: a temp dir)")
    parser.add_argument("--smoke", action="store_true", help="20,000 rows only, once")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per measurement; the fastest counts (the machine is shared and noisy)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL",
                        help="PostgreSQL server for the postgres path ('' to skip; default: the test server)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = [20_000] if args.smoke else [args.rows, args.small_rows]
    repeat = 1 if args.smoke else max(args.repeat, 1)
    with tempfile.TemporaryDirectory(prefix="ingest_bench_") as temp:
        out = args.out or Path(temp)
        out.mkdir(parents=True, exist_ok=True)
        databases = Databases(out, args.postgres)
        problem = databases.postgres_problem()
        kinds = ["floor", "ours", "chunks", "sqlite"] + ([] if problem else ["postgres"])
        if problem:
            print(f"postgres path skipped: {problem}", flush=True)
        results = []
        for rows in sizes:
            started = time.perf_counter()
            files = generate(rows, out)
            print(f"{rows:,} rows ready in {time.perf_counter() - started:.1f}s: "
                  + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in files.values()), flush=True)
            for fmt, path in files.items():
                measured = measure(kinds[:1] + (["floor-dict"] if fmt == "parquet" else []) + kinds[1:], path, repeat,
                                   databases)
                base = measured["floor"]
                for kind, other in measured.items():
                    if base["groups"] != other["groups"] or round(base["effective"], 2) != round(other["effective"], 2):
                        raise SystemExit(f"{path.name}: {kind} and the floor disagree: {base} vs {other}")
                print(f"  {fmt}: {base['groups']:,} daily aggregates; "
                      + ", ".join(f"{kind} {m['seconds']:.2f}s" for kind, m in measured.items()), flush=True)
                results.append((fmt, rows, measured))
    report(results)


def report(results: list[tuple[str, int, dict[str, dict]]]) -> None:
    print(f"\n{'format':8} {'rows':>10} {'path':10} {'wall s':>7} {'rows/s':>11} {'peak RSS MB':>12} "
          f"{'x floor':>8} {'CPU s':>7} {'CPU x floor':>12}")
    for fmt, rows, measured in results:
        base = measured["floor"]
        for name, m in measured.items():
            print(f"{fmt:8} {rows:>10,} {name:10} {m['seconds']:>7.2f} {rows / m['seconds']:>11,.0f} "
                  f"{m['rss_mb']:>12.0f} {m['seconds'] / base['seconds']:>8.2f} {m['cpu']:>7.2f} "
                  f"{m['cpu'] / base['cpu']:>12.2f}")
    print("floor-dict: Parquet text read as dictionaries; ours: read_daily_costs (the hook: ingest_files); chunks: read_cost_files frames + pd.concat + "
          "aggregate_daily;\nsqlite/postgres: the whole `costbot ingest file` command, database write included\n")
    largest = max(r[1] for r in results)
    smallest = min(r[1] for r in results)
    met = True
    for fmt, rows, measured in results:
        if rows != largest:
            continue
        base = measured["floor"]
        for kind in (k for k in DATABASE_KINDS if k in measured):
            mine = measured[kind]
            ratio = mine["seconds"] / base["seconds"]
            ok_time, ok_rss = ratio <= TARGETS[fmt], mine["rss_mb"] <= RSS_TARGET_MB
            met &= ok_time and ok_rss
            strict = (f" ({mine['seconds'] / measured['floor-dict']['seconds']:.2f}x the dictionary floor)"
                      if "floor-dict" in measured else "")
            print(f"{fmt:8} {kind:8} time {ratio:.2f}x floor{strict} (target <= {TARGETS[fmt]}x): "
                  f"{'met' if ok_time else 'MISSED'}; peak RSS {mine['rss_mb']:.0f} MB (target <= {RSS_TARGET_MB}): "
                  f"{'met' if ok_rss else 'MISSED'}")
            if smallest == largest:
                continue
            small = next(m[kind] for f, r, m in results if f == fmt and r == smallest)
            print(f"{'':17} growth {smallest:,} -> {largest:,} rows ({largest / smallest:.0f}x): "
                  f"wall {mine['seconds'] / small['seconds']:.1f}x, CPU {mine['cpu'] / small['cpu']:.1f}x, "
                  f"RSS {mine['rss_mb'] / small['rss_mb']:.1f}x")
    print("all targets met" if met else "some targets MISSED")


if __name__ == "__main__":
    main()
