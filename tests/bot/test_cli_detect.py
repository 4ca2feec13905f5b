"""``costbot detect [--as-of DATE] [--json]``, ``costbot detect --replay FROM..TO [--json]`` and
``costbot anomalies list|import-aws``: the SPEC's JSON contract with exact figures, one document on
stdout (alerts rendered to stderr), replay storing nothing, one-line usage errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

import bot.cli.anomalies
import jobs.detect
from storage.db import Database
from tests.bot.cli_runner import cli_runner
from tests.finops.sources.cost_file_helpers import write_csv
from tests.harness import TEAMS_YAML
from tests.jobs.anomaly_data import HEADER, cost_rows
from tests.jobs.test_detect import AWS_ANOMALY

EC2_KEY = "series|AWS|111222330440|Amazon EC2|payments|Usage|2026-11-12"


@pytest.fixture(autouse=True)
def quick_charts(monkeypatch) -> None:
    """A stand-in PNG (tests/jobs/test_detect.py draws real charts)."""
    monkeypatch.setattr(jobs.detect, "anomaly_chart", lambda *args, **kwargs: b"\x89PNG stand-in")


@pytest.fixture
def cli(db: Database, monkeypatch, capsys, tmp_path: Path):
    return cli_runner(db.url, TEAMS_YAML, monkeypatch, capsys, tmp_path)


@pytest.fixture
def costs(cli, tmp_path: Path) -> Path:
    """The costs of tests/jobs/anomaly_data.py through 2026-11-15, ingested with ``costbot ingest file``."""
    path = write_csv(tmp_path / "costs.csv", HEADER, cost_rows(date(2026, 11, 15)))
    code, _, err = cli("ingest", "file", str(path))
    assert code == 0, err
    return path


def test_detect_json_is_the_contract_with_exact_figures(cli, costs) -> None:
    code, out, err = cli("detect", "--as-of", "2026-11-14", "--json")
    assert code == 0, err
    anomalies = json.loads(out)  # exactly one JSON document on stdout ...
    assert "#team-payments" in err and "COST SPIKE: AMAZON EC2" in err  # ... the alerts went to the terminal
    by_team = {a["team"]: a for a in anomalies}
    assert sorted(by_team) == ["payments", "search", "unallocated"]
    ec2 = by_team["payments"]
    assert {k: ec2[k] for k in ("key", "detected_on", "start", "end", "dimensions", "expected_cost", "actual_cost",
                                "impact", "impact_pct", "team", "channel", "status", "kind", "alert", "state")} == {
        # a first run learns the history first: the shift was raised as the data of the 12th showed it
        "key": EC2_KEY, "detected_on": "2026-11-12", "start": "2026-11-12", "end": None,
        "dimensions": {"provider": "AWS", "sub_account_id": "111222330440", "service": "Amazon EC2",
                       "region": "us-east-1", "charge_category": "Usage", "team": "payments"},
        "expected_cost": 3000.0, "actual_cost": 7800.0, "impact": 4800.0, "impact_pct": 1.6, "team": "payments",
        "channel": "#team-payments", "status": "new", "kind": "spike", "alert": True, "state": "open"}
    assert isinstance(ec2["id"], int)
    assert ec2["root_cause"][:3] == [
        {"dimension": "RegionId", "value": "us-east-1", "impact": 4800.0, "share": 1.0},
        {"dimension": "SkuId", "value": "BoxUsage:m6i.xlarge", "impact": 4800.0, "share": 1.0},
        {"dimension": "ResourceId", "value": "i-bbb", "impact": 4800.0, "share": 1.0}]
    assert (by_team["unallocated"]["channel"], by_team["search"]["impact"]) == ("#finops", -800.0)

    # the next day: the same anomalies (same ids), brought up to date
    code, out, _ = cli("detect", "--as-of", "2026-11-15", "--json")
    later = {a["team"]: a for a in json.loads(out)}
    assert (later["payments"]["id"], later["payments"]["status"], later["payments"]["impact"]) == (ec2["id"], "updated",
                                                                                                   6400.0)
    assert later["payments"]["kind"] == "shift"


def test_replay_prints_every_anomaly_raised_and_stores_nothing(cli, costs) -> None:
    code, out, err = cli("detect", "--replay", "2026-11-01..2026-11-15", "--json")
    assert code == 0, err
    replayed = json.loads(out)
    assert [(a["id"], a["detected_on"], a["start"], a["end"], a["team"], a["channel"], a["impact"])
            for a in replayed] == [
        (EC2_KEY, "2026-11-12", "2026-11-12", None, "payments", "#team-payments", 6400.0),
        ("series|AWS|111222331441|Amazon OpenSearch Service|search|Usage|2026-11-13", "2026-11-13", "2026-11-13",
         None, "search", "#team-search", -1200.0),
        ("series|AWS|999999999999|Amazon S3|unallocated|Usage|2026-11-14", "2026-11-14", "2026-11-14", None,
         "unallocated", "#finops", 1800.0)]
    assert replayed[0]["dimensions"]["team"] == "payments" and err == ""
    code, out, _ = cli("anomalies", "list", "--all", "--json")
    assert (code, json.loads(out)) == (0, [])

    code, out, _ = cli("detect", "--replay", "2026-11-01..2026-11-13")
    assert code == 0
    assert out.splitlines()[0] == "replay 2026-11-01..2026-11-13: 2 anomalies raised"
    assert "Amazon EC2 in 111222330440 (us-east-1)" in out


def test_a_replay_and_a_daily_run_name_the_same_anomaly_by_the_same_key(cli, costs) -> None:
    code, out, err = cli("detect", "--replay", "2026-11-01..2026-11-14", "--json")
    assert code == 0, err
    replayed = {a["key"]: a["detected_on"] for a in json.loads(out)}
    code, out, err = cli("detect", "--as-of", "2026-11-14", "--json")
    assert code == 0, err
    daily = {a["key"]: a["detected_on"] for a in json.loads(out)}
    assert EC2_KEY in replayed and replayed == daily


def test_terminal_output_and_the_anomaly_list(cli, costs) -> None:
    code, out, _ = cli("detect", "--as-of", "2026-11-14")
    assert code == 0
    lines = out.splitlines()
    assert "detection as of 2026-11-14 (data complete through 2026-11-14): 3 new, 0 updated, 0 ended" in lines
    assert any(line.startswith("── #team-payments") for line in lines)  # the alert, rendered for the terminal
    code, out, _ = cli("anomalies", "list", "--team", "payments", "--json")
    assert [(a["key"], a["state"], a["channel"]) for a in json.loads(out)] == [
        (EC2_KEY, "open", "#team-payments")]
    code, out, _ = cli("anomalies", "list")
    assert out.splitlines()[0].split() == ["id", "state", "team", "kind", "start", "end", "impact", "scope"]
    assert len(out.splitlines()) == 5


def test_usage_errors_are_one_line_with_exit_2(cli, tmp_path: Path) -> None:
    for args, message in [
        (("detect", "--replay", "2026-11-15..2026-11-01"),
         "costbot: --replay 2026-11-15..2026-11-01: the range ends before it starts"),
        (("detect", "--replay", "last week"),
         "costbot: --replay wants FROM..TO (e.g. 2026-01-01..2026-03-31), not 'last week'"),
        (("detect", "--replay", "2026-11-01..2026-11-05", "--as-of", "2026-11-05"),
         "costbot: use --as-of or --replay, not both"),
        (("anomalies", "list", "--team", "nobody"),
         f"costbot: no team 'nobody' in {tmp_path / 'teams.yml'} (teams: payments, search)"),
    ]:
        code, out, err = cli(*args)
        assert (code, out, err.strip()) == (2, "", message)
    code, out, err = cli("detect", "--json")
    assert (code, json.loads(out)) == (0, [])  # nothing ingested: nothing to detect


def test_import_aws_routes_and_stores_anomalies(cli, monkeypatch) -> None:
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("get_anomalies", {"Anomalies": [AWS_ANOMALY]},
                      {"DateInterval": {"StartDate": "2026-11-01", "EndDate": "2026-11-16"}})
    monkeypatch.setattr(bot.cli.anomalies, "aws_ce_client", lambda: client)
    with stub:
        code, out, err = cli("anomalies", "import-aws", "--from", "2026-11-01", "--to", "2026-11-16", "--json")
    assert code == 0, err
    result = json.loads(out)
    (imported,) = result["new"]
    assert (result["from"], result["to"], result["updated"]) == ("2026-11-01", "2026-11-16", [])
    assert (imported["key"], imported["team"], imported["channel"], imported["impact"], imported["source"],
            imported["external_id"], imported["end"]) == ("aws:a1b2c3", "search", "#team-search", 2100.5, "aws",
                                                          "a1b2c3", "2026-11-14")
