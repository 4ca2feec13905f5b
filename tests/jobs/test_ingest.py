"""The ingest job against the connectors' local peers (moto, the local Azure server, bqemulator),
on SQLite and PostgreSQL: one recorded run per pull, the window replaced in one transaction,
freshness moved forward only on success, closed days never asked for again, failures retried."""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from botocore.config import Config
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from moto import mock_aws

from bot.services.ownership import reallocate_stored_costs
from finops import model
from finops.errors import ConfigError, InputError
from finops.money import cents
from finops.sources import config as sources_config
from finops.sources.aws_ce import AwsCostExplorer
from finops.sources.aws_s3 import AwsS3Export
from finops.sources.config import AwsS3ExportSource, AzureCostSource
from finops.sources.connector import CostConnector, SourceError
from finops.sources.gcp_bigquery import GcpBillingExport
from finops.teams import parse_teams
from jobs import ingest
from jobs.ingest import ingest_cost_files, ingest_from_connector, ingest_sources
from storage.costs import CostStore
from storage.db import Database
from tests.finops.sources.azure_fake_server import AzureCostServer
from tests.finops.sources.bigquery_emulator import running_emulator
from tests.finops.sources.cost_file_helpers import CUR_SAMPLE, FOCUS_HEADER, focus_row, write_csv
from tests.finops.sources.failing_endpoints import failing_bigquery, failing_cost_explorer, failing_s3
from tests.finops.sources.test_aws_ce import PAYER, day, group, queue, sent_requests
from tests.finops.sources.test_azure_query import ITEMS, SCOPE, StaticToken
from tests.finops.sources.test_azure_query import connector as azure_connector
from tests.finops.sources.test_gcp_bigquery import PROJECT, SCHEMA, STANDARD, STANDARD_ROWS

TEAMS = parse_teams("""\
default_channel: "#finops"
teams:
  - name: payments
    channel: "#team-payments"
    match:
      - tag: {team: payments}
      - sub_account_id: "111111111111"
  - name: search
    channel: "#team-search"
    match:
      - tag: {team: search}
""", file="teams.yml")


def effective(store: CostStore, **kwargs) -> Decimal:
    return store.totals(**kwargs)["EffectiveCost"]


def billed(store: CostStore, **kwargs) -> Decimal:
    return store.totals(**kwargs)["BilledCost"]


def freshness(store: CostStore, source: str):
    return next((f for f in store.freshness() if f.source == source), None)


# --- AWS Cost Explorer (moto's results queue) ---------------------------------------------------


def ce_results(days: dict[str, tuple[str, str]], *, tag: str = "payments") -> list[dict]:
    """What Cost Explorer answers one pull (owners, one drill-down, the region lookup) for
    ``{day: (unblended, amortized)}`` of one account's EC2 usage."""

    def by_day(keys: list[str], with_usage: bool) -> list[dict]:
        return [day(d, (date.fromisoformat(d) + timedelta(days=1)).isoformat(),
                    [group(keys, u, a, ("10", "Hrs") if with_usage else None)]) for d, (u, a) in days.items()]

    return [{"ResultsByTime": by_day(["111111111111", f"team${tag}"], False)},
            {"ResultsByTime": by_day(["Amazon Elastic Compute Cloud - Compute", "USE2-BoxUsage:m5.large"], True)},
            {"ResultsByTime": by_day(["USE2-BoxUsage:m5.large", "us-east-2"], False)}]


def test_cost_explorer_pulls_only_open_days_and_replaces_exactly_that_window(db: Database):
    store = CostStore(db)
    with mock_aws():
        client = boto3.client("ce", region_name="us-east-1")
        queue(*ce_results({"2026-09-15": ("5.00", "4.00"), "2026-10-01": ("10.00", "9.00"),
                           "2026-10-02": ("11.00", "10.00"), "2026-10-03": ("12.00", "11.00")}))
        first = ingest_from_connector(store, TEAMS, AwsCostExplorer(PAYER, client=client), date(2026, 10, 4))

        # First run: the default backfill (DEFAULT_BACKFILL_DAYS) up to yesterday; complete through the day before yesterday.
        assert (first.start, first.end, first.complete_through) == (date(2025, 9, 4), date(2026, 10, 3),
                                                                    date(2026, 10, 2))
        assert sent_requests()[0]["TimePeriod"] == {"Start": "2025-09-04", "End": "2026-10-04"}
        assert (billed(store), effective(store)) == (Decimal("38"), Decimal("34"))
        assert effective(store, filters={"team": ["payments"]}) == Decimal("34")
        fresh = freshness(store, f"aws-ce:{PAYER}")
        assert (fresh.last_day, fresh.complete_through) == (date(2026, 10, 3), date(2026, 10, 2))

        # AWS restates the 3rd and adds days; the next pull starts 3 restatable days before the
        # known complete day (the 2nd), so September's closed days are not asked for again.
        queue(*ce_results({"2026-09-30": ("1.00", "1.00"), "2026-10-03": ("20.00", "19.00"),
                           "2026-10-18": ("7.00", "7.00")}))
        second = ingest_from_connector(store, TEAMS, AwsCostExplorer(PAYER, client=client), date(2026, 10, 20))
        assert (second.start, second.end, second.complete_through) == (date(2026, 9, 30), date(2026, 10, 19),
                                                                       date(2026, 10, 18))
        assert sent_requests()[3]["TimePeriod"] == {"Start": "2026-09-30", "End": "2026-10-20"}

    # The window [09-30, 10-19] holds only the second pull; 09-15 (before it) is as it was.
    by_day = store.grouped_costs(by=["day"])
    assert dict(zip(by_day[model.DAY].dt.strftime("%m-%d"), by_day["billed_micros"], strict=True)) == {
        "09-15": 5_000_000, "09-30": 1_000_000, "10-03": 20_000_000, "10-18": 7_000_000}
    runs = store.ingest_runs(f"aws-ce:{PAYER}")
    assert [(r.status, r.period_start, r.period_end, r.rows_written, r.billed_total) for r in runs] == [
        ("ok", date(2026, 9, 30), date(2026, 10, 19), 3, Decimal("28")),
        ("ok", date(2025, 9, 4), date(2026, 10, 3), 4, Decimal("38"))]
    assert {r.kind for r in runs} == {"aws-ce"}


# --- Azure Cost Management (the local Query REST server) ----------------------------------------


@pytest.fixture
def azure():
    with AzureCostServer(SCOPE, ITEMS) as server:
        yield server


def azure_windows(server: AzureCostServer) -> list[dict]:
    return [r["body"]["timePeriod"] for r in server.requests if "$skiptoken" not in r["query"]]


def test_a_failing_pull_is_recorded_keeps_the_data_and_the_next_run_asks_for_the_same_days(db: Database, azure,
                                                                                         tmp_path):
    store = CostStore(db)
    ingest_cost_files(store, TEAMS, [write_csv(tmp_path / "f.csv", FOCUS_HEADER, [focus_row(effective="2.50")])],
                      today=date(2026, 10, 18))
    first = ingest_from_connector(store, TEAMS, azure_connector(azure), date(2026, 10, 18))
    assert first.complete_through == date(2026, 10, 16)
    # Every served item is inside the first pull's window: actual 443.32, amortized 153.32 (+2.50 from the file).
    assert (billed(store), effective(store)) == (Decimal("444.82"), Decimal("155.82"))
    before = (store.totals(), len(store.series()), freshness(store, f"azure:{SCOPE}"))

    azure.fail_next(503, "ServiceUnavailable")
    with pytest.raises(SourceError, match="failed on Azure's side"):
        ingest_from_connector(store, TEAMS, azure_connector(azure), date(2026, 10, 20))
    assert (store.totals(), len(store.series()), freshness(store, f"azure:{SCOPE}")) == before
    failed = store.ingest_runs(f"azure:{SCOPE}", limit=1)[0]
    assert (failed.status, failed.period_start, failed.period_end) == ("failed", date(2026, 10, 14), date(2026, 10, 19))
    assert failed.error == (f"azure:{SCOPE}: Azure Cost Management failed on Azure's side (503 ServiceUnavailable); "
                            "the next run retries")
    assert failed.finished_at is not None

    azure.requests.clear()
    retried = ingest_from_connector(store, TEAMS, azure_connector(azure), date(2026, 10, 20))
    assert (retried.start, retried.end) == (date(2026, 10, 14), date(2026, 10, 19))
    assert azure_windows(azure)[0] == {"from": "2026-10-14T00:00:00Z", "to": "2026-10-19T23:59:59Z"}
    assert (billed(store), effective(store)) == (Decimal("444.82"), Decimal("155.82"))
    assert freshness(store, f"azure:{SCOPE}").complete_through == date(2026, 10, 18)
    assert [r.status for r in store.ingest_runs(f"azure:{SCOPE}")] == ["ok", "failed", "ok"]


def test_expired_credentials_are_a_failed_run_with_the_reason(db: Database, azure):
    store = CostStore(db)
    with pytest.raises(SourceError):
        ingest_from_connector(store, TEAMS, azure_connector(azure, token="expired"), date(2026, 10, 18))
    (run,) = store.ingest_runs()
    assert (run.status, run.kind) == ("failed", "azure")
    assert run.error == f"azure:{SCOPE}: Azure rejected the credentials (401 ExpiredAuthenticationToken)"
    assert store.totals()["EffectiveCost"] == 0 and store.freshness() == []
    (status,) = store.source_status()
    assert (status.source, status.last_run_status, status.complete_through) == (f"azure:{SCOPE}", "failed", None)


def test_a_manual_backfill_of_older_days_does_not_move_freshness_back(db: Database, azure):
    store = CostStore(db)
    ingest_from_connector(store, TEAMS, azure_connector(azure), date(2026, 10, 18))
    run = ingest_from_connector(store, TEAMS, azure_connector(azure), date(2026, 10, 18),
                                start=date(2026, 10, 13), end=date(2026, 10, 14))
    assert (run.start, run.end, run.complete_through) == (date(2026, 10, 13), date(2026, 10, 14), date(2026, 10, 16))
    fresh = freshness(store, f"azure:{SCOPE}")
    assert (fresh.last_day, fresh.complete_through) == (date(2026, 10, 17), date(2026, 10, 16))


# --- S3 exports (moto) and several sources at once ----------------------------------------------


def test_configured_sources_run_one_by_one_and_a_failure_does_not_stop_the_others(db: Database, azure,
                                                                                 monkeypatch):
    store = CostStore(db)
    monkeypatch.setattr(sources_config, "azure_credential", lambda: StaticToken("expired"))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="acme-billing")
        report = "cur/acme/20231101-20231201"
        s3.put_object(Bucket="acme-billing", Key=f"{report}/acme-1.csv.gz", Body=gzip.compress(CUR_SAMPLE.read_bytes()))
        specs = [AzureCostSource(SCOPE, base_url=azure.url), AwsS3ExportSource("acme-billing", "cur/acme")]
        runs = ingest_sources(store, TEAMS, specs, date(2023, 11, 16))

    assert [r.source for r in runs] == [f"azure:{SCOPE}", "aws-cur:s3://acme-billing/cur/acme"]
    assert runs[0].error == f"azure:{SCOPE}: Azure rejected the credentials (401 ExpiredAuthenticationToken)"
    assert (runs[1].error, runs[1].start, runs[1].end) == (None, date(2022, 10, 17), date(2023, 11, 15))
    # The legacy CUR sample's lineItem/UnblendedCost sums to 1.682309 (stored per daily row in
    # micro-dollars, so sub-micro line items move the sum by a few micros, never a cent).
    assert cents(billed(store)) == Decimal("1.68")
    assert abs(billed(store) - Decimal("1.682309")) <= Decimal("0.00001")
    assert freshness(store, "aws-cur:s3://acme-billing/cur/acme").complete_through == date(2023, 11, 14)
    assert [(s.source, s.last_run_status) for s in store.source_status()] == [
        ("aws-cur:s3://acme-billing/cur/acme", "ok"), (f"azure:{SCOPE}", "failed")]


def test_the_scheduled_pull_skips_a_source_another_replica_just_pulled(db: Database):
    store = CostStore(db)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="acme-billing")
        spec = AwsS3ExportSource("acme-billing", "cur")
        now = datetime.now(UTC)  # runs are stamped with the real clock
        first = ingest_sources(store, TEAMS, [spec], now.date(), now=now, skip_recent=True)
        again = ingest_sources(store, TEAMS, [spec], now.date(), now=now + timedelta(minutes=4), skip_recent=True)
        later = ingest_sources(store, TEAMS, [spec], now.date(), now=now + timedelta(hours=2), skip_recent=True)
    assert (first[0].skipped, again[0].skipped, later[0].skipped) == (False, True, False)
    assert len(store.ingest_runs()) == 2


def test_an_s3_connector_refusing_an_export_is_a_failed_run(db: Database):
    store = CostStore(db)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        with pytest.raises(SourceError, match="NoSuchBucket"):
            ingest_from_connector(store, TEAMS, AwsS3Export("no-such-bucket", "cur", client=s3), date(2026, 10, 20))
    (run,) = store.ingest_runs()
    assert run.status == "failed" and "NoSuchBucket" in run.error


# --- GCP billing export (bqemulator) ------------------------------------------------------------


@pytest.fixture(scope="module")
def bigquery_client():
    with running_emulator(PROJECT) as url:
        client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                 client_options=ClientOptions(api_endpoint=url))
        client.create_dataset("billing")
        assert client.insert_rows_json(client.create_table(bigquery.Table(STANDARD, schema=SCHEMA)),
                                       STANDARD_ROWS) == []
        yield client


def test_gcp_export_net_of_credits_allocated_by_label(db: Database, bigquery_client):
    store = CostStore(db)
    run = ingest_from_connector(store, TEAMS, GcpBillingExport(STANDARD, client=bigquery_client), date(2024, 5, 4),
                                start=date(2024, 5, 1), end=date(2024, 5, 2))
    # 18.50 charged, 2.18 of credits as their own Credit rows: both metrics are net.
    assert (billed(store), effective(store)) == (Decimal("16.32"), Decimal("16.32"))
    credits = store.grouped_costs(by=["charge_category"]).set_index("ChargeCategory")["billed_micros"].to_dict()
    assert credits == {"Usage": 17_430_000, "Tax": 1_070_000, "Credit": -2_180_000}
    assert effective(store, filters={"team": ["payments"]}) == Decimal("15.25")   # labelled team=payments, net
    assert run.complete_through == date(2024, 5, 2)
    assert store.ingest_runs()[0].billed_total == Decimal("16.32")


# --- files --------------------------------------------------------------------------------------


def test_an_older_export_after_a_newer_one_does_not_make_newer_days_partial(db: Database, tmp_path):
    store = CostStore(db)
    october = write_csv(tmp_path / "oct.csv", FOCUS_HEADER, [focus_row("2024-10-30T00:00:00Z"),
                                                             focus_row("2024-10-31T00:00:00Z")])
    september = write_csv(tmp_path / "sep.csv", FOCUS_HEADER, [focus_row("2024-09-29T00:00:00Z")])
    ingest_cost_files(store, TEAMS, [october], today=date(2024, 11, 1))
    assert freshness(store, "file:focus:AWS:999").complete_through == date(2024, 10, 30)
    ingest_cost_files(store, TEAMS, [september], today=date(2024, 11, 1))
    fresh = freshness(store, "file:focus:AWS:999")
    assert (fresh.last_day, fresh.complete_through) == (date(2024, 10, 31), date(2024, 10, 30))
    (status,) = store.source_status()
    assert status.partial_days == [date(2024, 10, 31)]


def test_a_bad_file_among_good_ones_writes_nothing_and_records_why(db: Database, tmp_path):
    store = CostStore(db)
    good = write_csv(tmp_path / "a.csv", FOCUS_HEADER, [focus_row(effective="3.00")])
    bad = write_csv(tmp_path / "b.csv", FOCUS_HEADER, [focus_row(), focus_row(effective="3,00")])
    with pytest.raises(InputError) as raised:
        ingest_cost_files(store, TEAMS, [good, bad], today=date(2024, 11, 1))
    assert store.totals()["EffectiveCost"] == 0 and len(store.series()) == 0 and store.freshness() == []
    (run,) = store.ingest_runs()
    assert (run.status, run.error) == ("failed", str(raised.value))
    assert run.error == f"{bad}, line 3, column 'EffectiveCost': not a number (value '3,00')"


# --- every connector: a failed pull is recorded, changes nothing, and the next run retries it ----
# The good pulls go to the local peers; the failing ones to a local endpoint answering as the
# provider's API answers errors (tests/finops/sources/failing_endpoints.py).


def _fails_then_retries(store: CostStore, source: str, ok: Callable[[], CostConnector],
                        failing: Callable[[], CostConnector], first_day: date, later_day: date) -> str:
    """A good pull, then a failing one, then a good one again on the same day: the failure is a
    failed run with its reason and the window it asked for, the data and freshness are exactly
    as before it, and the next run asks for that same window. Returns the failure's reason."""
    ingest_from_connector(store, TEAMS, ok(), first_day)
    before = (store.totals(), len(store.series()), len(store.grouped_costs(by=["series_id", "day"])),
              freshness(store, source))
    assert before[0]["EffectiveCost"] > 0

    with pytest.raises(SourceError) as raised:
        ingest_from_connector(store, TEAMS, failing(), later_day)
    assert (store.totals(), len(store.series()), len(store.grouped_costs(by=["series_id", "day"])),
            freshness(store, source)) == before
    failed = store.ingest_runs(source, limit=1)[0]
    assert (failed.status, failed.error, failed.rows_written) == ("failed", str(raised.value), 0)
    assert failed.finished_at is not None and failed.period_start is not None

    retried = ingest_from_connector(store, TEAMS, ok(), later_day)
    assert (retried.start, retried.end) == (failed.period_start, failed.period_end)
    assert store.totals() == before[0]   # the provider served the same costs again
    assert [r.status for r in store.ingest_runs(source)] == ["ok", "failed", "ok"]
    assert freshness(store, source).complete_through >= before[3].complete_through
    return str(raised.value)


def _aws_client(service: str, url: str):
    """A boto3 client of the real SDK pointed at a local endpoint (one attempt: the failure is the point)."""
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, aws_access_key_id="x",
                        aws_secret_access_key="y", config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.mark.parametrize(("code", "status", "reason"), [
    ("ExpiredTokenException", 400, "AWS rejected the credentials (ExpiredTokenException)"),
    ("LimitExceededException", 400, "AWS throttled Cost Explorer (LimitExceededException); the next run retries"),
    ("InternalServerError", 500, "Cost Explorer failed on AWS's side (HTTP 500 InternalServerError); "
                                 "the next run retries"),
])
def test_a_failing_cost_explorer_pull_is_recorded_changes_nothing_and_is_retried(db: Database, code, status, reason):
    store = CostStore(db)
    with mock_aws(), failing_cost_explorer(status, code, "Request failed") as url:
        client = boto3.client("ce", region_name="us-east-1")
        served = ce_results({"2026-10-01": ("10.00", "9.00"), "2026-10-02": ("11.00", "10.00")})
        queue(*served, *served)   # the first pull and the retry
        error = _fails_then_retries(store, f"aws-ce:{PAYER}", lambda: AwsCostExplorer(PAYER, client=client),
                                    lambda: AwsCostExplorer(PAYER, client=_aws_client("ce", url)),
                                    date(2026, 10, 3), date(2026, 10, 9))
    assert error == f"aws-ce:{PAYER}: {reason}"
    assert effective(store) == Decimal("19")


@pytest.mark.parametrize(("code", "status", "reason"), [
    ("ExpiredToken", 400, "AWS rejected the credentials (ExpiredToken)"),
    ("SlowDown", 503, "AWS throttled S3 (SlowDown); the next run retries"),
    ("InternalError", 500, "S3 failed on AWS's side (HTTP 500 InternalError); the next run retries"),
])
def test_a_failing_s3_export_pull_is_recorded_changes_nothing_and_is_retried(db: Database, code, status, reason):
    store = CostStore(db)
    with mock_aws(), failing_s3(status, code, "Request failed") as url:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="acme-billing")
        s3.put_object(Bucket="acme-billing", Key="cur/acme/20231101-20231201/acme-1.csv.gz",
                      Body=gzip.compress(CUR_SAMPLE.read_bytes()))
        error = _fails_then_retries(store, "aws-cur:s3://acme-billing/cur/acme",
                                    lambda: AwsS3Export("acme-billing", "cur/acme", client=s3),
                                    lambda: AwsS3Export("acme-billing", "cur/acme", client=_aws_client("s3", url)),
                                    date(2023, 11, 16), date(2023, 11, 20))
    assert error == f"aws-cur:s3://acme-billing/cur/acme: {reason}"
    assert cents(billed(store)) == Decimal("1.68")


@pytest.mark.parametrize(("status", "reason", "expected"), [
    # On a 401 the client refreshes its credentials; credentials that cannot be refreshed fail so.
    (401, "authError", "Google rejected the credentials (InvalidOperation: Anonymous credentials cannot be "),
    (503, "backendError", "BigQuery failed on Google's side (503 "),
    (429, "rateLimitExceeded", "BigQuery throttled the query (429 "),
])
def test_a_failing_bigquery_pull_is_recorded_changes_nothing_and_is_retried(db: Database, bigquery_client,
                                                                            status, reason, expected):
    store = CostStore(db)
    with failing_bigquery(status, reason, "Request failed") as url:
        failing_client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                         client_options=ClientOptions(api_endpoint=url))
        error = _fails_then_retries(store, f"gcp:{STANDARD}",
                                    lambda: GcpBillingExport(STANDARD, client=bigquery_client),
                                    lambda: GcpBillingExport(STANDARD, client=failing_client, retry_seconds=1),
                                    date(2024, 5, 4), date(2024, 5, 6))
    assert error.startswith(f"gcp:{STANDARD}: {expected}")
    # 5xx and rate limits are retried within the pull (up to retry_seconds) before it fails.
    assert error.endswith("(still failing after 1 s of retries)") == (status != 401)


# --- schedule -----------------------------------------------------------------------------------


class _Ctx:
    """The parts of AppContext the schedule reads."""

    def __init__(self, db: Database) -> None:
        self.db, self.teams = db, TEAMS


def test_schedule_adds_the_daily_pull_from_sources_yml(sqlite_db: Database, tmp_path, monkeypatch):
    path = tmp_path / "sources.yml"
    path.write_text('schedule: "15 5 * * *"\nsources:\n  - kind: aws-cur\n    bucket: acme-billing\n')
    monkeypatch.setenv("COSTBOT_SOURCES", str(path))
    scheduler = BackgroundScheduler(timezone="UTC")
    ingest.schedule(scheduler, _Ctx(sqlite_db))
    (job,) = scheduler.get_jobs()
    assert job.id == "pull_cost_sources"
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("5", "15")
    assert job.trigger.jitter == ingest.SCHEDULE_JITTER_SECONDS
    assert job.args[1].sources == (AwsS3ExportSource("acme-billing", line=3),)


def test_schedule_without_sources_adds_nothing_and_a_bad_file_stops_the_start(sqlite_db: Database, tmp_path,
                                                                              monkeypatch):
    monkeypatch.delenv("COSTBOT_SOURCES", raising=False)
    scheduler = BackgroundScheduler(timezone="UTC")
    ingest.schedule(scheduler, _Ctx(sqlite_db))
    assert scheduler.get_jobs() == []
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n  - kind: gcp\n    tabel: p.d.t\n")
    monkeypatch.setenv("COSTBOT_SOURCES", str(path))
    with pytest.raises(ConfigError) as raised:
        ingest.schedule(scheduler, _Ctx(sqlite_db))
    assert (raised.value.file, raised.value.line, raised.value.key) == (str(path), 3, "sources[0].tabel")


def test_connector_runs_as_json_documents(db: Database, azure):
    from bot.cli._connectors import run_document

    run = ingest_from_connector(CostStore(db), TEAMS, azure_connector(azure), date(2026, 10, 18))
    assert run_document(run) == {
        "source": f"azure:{SCOPE}", "start": date(2025, 9, 18), "end": date(2026, 10, 17), "rows": 9,
        "billed": Decimal("443.32"), "effective": Decimal("153.32"), "complete_through": date(2026, 10, 16),
        "error": None, "skipped": False}


def test_an_ingest_under_other_rules_re_allocates_what_was_stored_before(db: Database, tmp_path) -> None:
    store = CostStore(db)
    rows = [focus_row("2026-10-01", account="222222222222", effective="5.00"),
            focus_row("2026-10-01", account="111111111111", effective="7.00")]
    ingest_cost_files(store, parse_teams('default_channel: "#finops"\nteams: []\n'),
                      [write_csv(tmp_path / "before.csv", FOCUS_HEADER, rows)], today=date(2026, 10, 20))
    assert effective(store, filters={"team": [model.UNALLOCATED]}) == Decimal("12")

    # Another source, ingested with TEAMS: the first file's account 111 now belongs to payments.
    later = [focus_row("2026-10-02", provider="Microsoft", account="333333333333", effective="1.00")]
    ingest_cost_files(store, TEAMS, [write_csv(tmp_path / "later.csv", FOCUS_HEADER, later)], today=date(2026, 10, 20))
    assert effective(store, filters={"team": ["payments"]}) == Decimal("7")
    assert effective(store, filters={"team": [model.UNALLOCATED]}) == Decimal("6")

    # An ingest without rules stores its rows unallocated and leaves the others alone; the next
    # start with a teams.yml re-allocates them.
    gcp = [focus_row("2026-10-03", provider="Google Cloud", account="111111111111", effective="2.00")]
    ingest_cost_files(store, parse_teams('default_channel: "#finops"\nteams: []\n'),
                      [write_csv(tmp_path / "gcp.csv", FOCUS_HEADER, gcp)], today=date(2026, 10, 20))
    assert effective(store, filters={"team": ["payments"]}) == Decimal("7")
    assert reallocate_stored_costs(store, TEAMS) == 1
    assert effective(store, filters={"team": ["payments"]}) == Decimal("9")
    assert reallocate_stored_costs(store, TEAMS) is None   # the rules are recorded: nothing to redo


class _Provider(CostConnector):
    """A connector whose provider answers with ``amount`` for the first day of the window, or raises ``error``."""

    def __init__(self, source: str, amount: float = 1.0, error: Exception | None = None) -> None:
        self.source, self.amount, self.error = source, amount, error

    def fetch_daily(self, start, end):
        if self.error is not None:
            raise self.error
        return pd.DataFrame({"ChargePeriodStart": [pd.Timestamp(start)], "ProviderName": ["Microsoft"],
                             "SubAccountId": ["sub-1"], "Tags": [""],
                             "BilledCost": [self.amount], "EffectiveCost": [self.amount]})


@dataclasses.dataclass(frozen=True)
class _Spec(AzureCostSource):
    build: Callable[[], CostConnector] | None = None

    def connector(self) -> CostConnector:
        assert self.build is not None
        return self.build()


def _broken_sdk() -> CostConnector:
    raise RuntimeError("the SDK could not build its client")


def test_any_failure_of_one_source_is_recorded_and_the_next_sources_still_run(db: Database, caplog):
    store = CostStore(db)
    specs = [_Spec("subscriptions/inf", build=lambda: _Provider("azure:subscriptions/inf", float("inf"))),
             _Spec("subscriptions/keyerror", build=lambda: _Provider("azure:subscriptions/keyerror",
                                                                     error=KeyError("properties"))),
             _Spec("subscriptions/sdk", build=_broken_sdk),
             _Spec("subscriptions/good", build=lambda: _Provider("azure:subscriptions/good", 4.25))]

    runs = ingest_sources(store, TEAMS, specs, date(2026, 11, 16))

    assert [(r.source, r.error) for r in runs] == [
        ("azure:subscriptions/inf", "azure:subscriptions/inf: non-finite amount (NaN or infinity) in BilledCost; "
                                    "nothing was written"),
        ("azure:subscriptions/keyerror", "azure:subscriptions/keyerror: KeyError: 'properties'"),
        ("azure:subscriptions/sdk", "azure:subscriptions/sdk: RuntimeError: the SDK could not build its client"),
        ("azure:subscriptions/good", None)]
    assert effective(store) == Decimal("4.25")
    assert sorted((r.source, r.status, r.error) for r in store.ingest_runs()) == sorted(
        [(r.source, "failed" if r.error else "ok", r.error) for r in runs])
    # Failures that are not the provider's own errors are logged with their traceback.
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in tracebacks] == ["azure:subscriptions/keyerror: the pull failed",
                                                    "azure:subscriptions/sdk: cannot build the connector"]
