"""``costbot findings ...`` and ``costbot savings`` in process, on SQLite and PostgreSQL: the contract
scripts rely on (names, JSON shapes, exact cents), who a CLI move acts as, and one-line errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.cli import main
from bot.cli.findings import history_line
from storage.db import Database
from storage.findings import FindingEvent
from tests.finops.sources.cost_file_helpers import FOCUS_HEADER, write_csv
from tests.handlers.test_findings import org_rows
from tests.harness import TEAMS_YAML


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out, parse_float=Decimal)

    @property
    def last_line(self) -> str:
        return self.out.strip().splitlines()[-1]


@pytest.fixture
def cli(db: Database, monkeypatch, capsys, tmp_path):
    """``cli("findings", "list")`` runs costbot here against the test database and the harness's teams.yml,
    with the org's costs (payments' RDS $100/day stepping to $60/day after 2026-10-20) ingested."""
    for name in ("COSTBOT_SOURCES", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    teams = tmp_path / "teams.yml"
    teams.write_text(TEAMS_YAML)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", db.url)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))
    monkeypatch.setenv("USER", "ops")

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse
            code = exit_.code
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    assert run("ingest", "file", write_csv(tmp_path / "costs.csv", FOCUS_HEADER, org_rows())).code == 0
    return run


NEW = ("findings", "new", "--title", "Rightsize the payments RDS", "--team", "payments",
       "--scope", "service=Amazon RDS", "--scope", "sub_account_id=111222330440", "--estimate", "1000.10",
       "--due", "2099-12-31")


def test_new_prints_the_finding_with_its_id(cli):
    result = cli(*NEW, "--notes", "  db.r6g.4xlarge at 12 % CPU  ", "--json")
    assert result.code == 0, result.err
    finding = result.json()
    assert {k: finding[k] for k in ("id", "title", "team", "assignee", "state", "scope", "estimate_monthly",
                                    "realized_monthly", "regressed", "baseline", "after", "due_on", "source",
                                    "notes")} == {
        "id": 1, "title": "Rightsize the payments RDS", "team": "payments", "assignee": "U_PAY_OWNER",
        "state": "identified", "scope": {"service": ["Amazon RDS"], "sub_account_id": ["111222330440"]},
        "estimate_monthly": Decimal("1000.1"), "realized_monthly": None, "regressed": False, "baseline": None,
        "after": None, "due_on": "2099-12-31", "source": "manual", "notes": "db.r6g.4xlarge at 12 % CPU"}
    assert "SAVINGS FINDING #1" in result.err  # the team channel's message, rendered off stdout
    assert "Notes: db.r6g.4xlarge at 12 % CPU" in result.err
    assert cli("findings", "show", "1", "--json").json()["notes"] == "db.r6g.4xlarge at 12 % CPU"
    assert "  notes: db.r6g.4xlarge at 12 % CPU" in cli("findings", "show", "1").out


@pytest.mark.parametrize(("change", "message"), [
    (("--team", "paymnts"), "costbot: --team: no team 'paymnts' in "),
    (("--scope", "account=1"), "costbot: --scope: unknown scope key 'account'"),
    (("--scope", "service"), "costbot: --scope: a scope is KEY=VALUE"),
    (("--estimate", "-3"), "costbot: --estimate: the estimate must be a positive number"),
    (("--estimate", "0.001"), "costbot: --estimate: the estimate must be a positive number of dollars per "
                              "month (at least $0.01)"),
    (("--estimate", "1e13"), "costbot: --estimate: the estimate must be less than 1,000,000,000 dollars"),
    (("--estimate", "1e400"), "costbot: --estimate: the estimate must be less than 1,000,000,000 dollars"),
    (("--due", "2020-01-01"), "costbot: --due: the due date 2020-01-01 is in the past (today is "),
])
def test_bad_input_is_one_line_and_opens_nothing(cli, change, message):
    args = list(NEW)
    args[args.index(change[0]) + 1] = change[1]
    result = cli(*args)
    assert result.code == 1 and result.err.startswith(message), result.err
    assert cli("findings", "list", "--json").json() == []


def test_the_life_of_a_finding_from_the_command_line(cli):
    assert cli(*NEW).code == 0
    assert cli("findings", "move", "1", "accept", "--by", "U_PAY_DEV").last_line == \
        "Finding #1: identified → accepted (accept by U_PAY_DEV)."
    assert cli("findings", "move", "1", "start").last_line == "Finding #1: accepted → in_progress (start by cli:ops)."
    assert cli("findings", "move", "1", "implemented", "--at", "2026-10-20", "--reason", "smaller instance").code == 0

    run = cli("findings", "verify", "--as-of", "2026-11-16", "--json").json()
    assert run == {"today": "2026-11-16", "data_through": "2026-11-15", "begun": [1],
                   "concluded": [{"id": 1, "state": "verified", "realized_monthly": Decimal("1217.5")}],
                   "waiting": [], "rechecked": [], "unmeasurable": []}

    shown = cli("findings", "show", "1", "--json").json()
    assert (shown["state"], shown["realized_monthly"], shown["regressed"], shown["implemented_on"]) == (
        "verified", Decimal("1217.5"), False, "2026-10-20")
    assert shown["baseline"] == {"start": "2026-09-22", "end": "2026-10-19", "daily_cost": Decimal("100.0")}
    assert shown["after"] == {"start": "2026-10-21", "end": "2026-11-03", "daily_cost": Decimal("60.0")}
    assert [(h["action"], h["from"], h["to"], h["by"]) for h in shown["history"]] == [
        ("create", None, "identified", "cli:ops"), ("accept", "identified", "accepted", "U_PAY_DEV"),
        ("start", "accepted", "in_progress", "cli:ops"), ("implemented", "in_progress", "implemented", "cli:ops"),
        ("begin_verification", "implemented", "verifying", "system"), ("verify", "verifying", "verified", "system")]
    assert shown["history"][3]["implemented_on"] == "2026-10-20" and shown["history"][3]["reason"] == "smaller instance"
    assert shown["verification"]["threshold_monthly"] == Decimal("800.08")

    listed = cli("findings", "list", "--team", "payments", "--state", "verified", "--json").json()
    assert [(f["id"], f["realized_monthly"]) for f in listed] == [(1, Decimal("1217.5"))]
    assert cli("findings", "list", "--state", "identified", "--json").json() == []

    ledger = cli("savings", "--json").json()
    assert ledger["total"]["identified_monthly"] == Decimal("1000.1")
    assert ledger["total"]["realized_monthly"] == Decimal("1217.5")
    assert ledger["total"]["realized_annual"] == Decimal("14610.0")
    assert ledger["total"]["implementation_rate_count"] == Decimal("1.0")
    assert [(r["team"], r["quarter"], r["implemented_monthly"], r["realized_monthly"]) for r in ledger["rows"]] == [
        ("payments", "2026Q4", Decimal("1000.1"), Decimal("1217.5"))]
    assert cli("savings", "--quarter", "Q3 2026", "--json").json()["total"]["identified_count"] == 0


def test_a_finding_verification_found_not_realized_is_not_counted_as_implemented(cli):
    # payments' RDS drops from $100 to $60 a day after 2026-10-20 (verified); search's EC2 stays at
    # $300 a day although its finding says it was implemented that day (not realized).
    search = ("findings", "new", "--title", "Stop idle search nodes", "--team", "search",
              "--scope", "service=Amazon EC2", "--scope", "sub_account_id=111222331441", "--estimate", "500")
    for args in (NEW, search):
        assert cli(*args).code == 0
    for finding in ("1", "2"):
        for move in (("accept",), ("start",), ("implemented", "--at", "2026-10-20")):
            assert cli("findings", "move", finding, *move).code == 0
    run = cli("findings", "verify", "--as-of", "2026-11-16", "--json").json()
    assert [(c["id"], c["state"]) for c in run["concluded"]] == [(1, "verified"), (2, "not_realized")]

    total = cli("savings", "--json").json()["total"]
    assert (total["identified_count"], total["identified_monthly"]) == (2, Decimal("1500.1"))
    assert (total["implemented_count"], total["implemented_monthly"]) == (1, Decimal("1000.1"))
    assert (total["not_realized_count"], total["not_realized_monthly"]) == (1, Decimal("500.0"))
    assert total["implementation_rate_count"] == Decimal("0.5")
    assert total["implementation_rate_usd"] == Decimal(str(100010 / 150010))
    out = cli("savings").out
    table = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("payments", "search"))}
    # team, quarter, identified, implemented, not realized, realized, regressed, rate (count), rate ($)
    assert table["search"] == ["search", "2026Q4", "$500.00", "$0.00", "$500.00", "$0.00", "$0.00", "0%", "0%"]
    assert table["payments"][2:5] == ["$1,000.10", "$1,000.10", "$0.00"]
    assert out.splitlines()[-2] == ("amounts: in the quarter each event happened; rates: of the findings identified "
                                    "in that quarter (not rejected), the share implemented since")
    assert out.splitlines()[-1] == (
        "total: identified $1,500.10 (2), implemented $1,000.10 (1), 1 not realized, $500.00 estimated (not counted "
        "as implemented), verified $1,217.50 realized (1; $14,610.00 a year); implementation rate 50% of findings, "
        "67% of $")


def test_who_a_cli_move_acts_as(cli):
    assert cli(*NEW).code == 0
    stranger = cli("findings", "move", "1", "accept", "--by", "U_STRANGER")
    assert stranger.code == 1
    assert stranger.err.strip() == ("costbot: finding #1: only members of the finding's team may accept this "
                                    "finding; U_STRANGER is not on the team")
    finance = cli("findings", "move", "1", "accept", "--by", "U_FINANCE")
    assert "U_FINANCE is not on the team" in finance.err
    assert cli("findings", "move", "1", "reject", "--by", "U_PAY_OWNER").err.strip() == (
        "costbot: finding #1: reject needs a reason: say why, it goes into the finding's history")
    assert cli("findings", "move", "1", "reject", "--reason", "not ours").code == 0
    # A name is not a Slack user ID: it would prove nothing, so it is refused before anything moves.
    mallory = cli("findings", "move", "1", "reopen", "--by", "mallory", "--reason", "it is ours")
    assert mallory.code == 2 and mallory.err.strip() == (
        "costbot: --by 'mallory' is not a Slack user ID (like U0123ABCD); leave --by out to act as the operator")
    assert cli("findings", "show", "1", "--json").json()["state"] == "rejected"
    # Without --by, the operator holds finance rights too: reopen works, audited under $USER.
    assert cli("findings", "move", "1", "reopen", "--reason", "it is ours").last_line == \
        "Finding #1: rejected → identified (reopen by cli:ops)."
    assert cli("findings", "move", "1", "reopen", "--reason", "again").err.strip().startswith(
        "costbot: finding #1: cannot reopen: finding is identified; allowed: accept, reject, reassign")


def test_dates_of_moves(cli):
    assert cli(*NEW).code == 0
    assert cli("findings", "move", "1", "accept", "--at", "2026-10-01").code == 0
    accepted = cli("findings", "show", "1", "--json").json()["history"][-1]
    assert accepted["at"] == "2026-10-01T00:00:00+00:00"
    future = cli("findings", "move", "1", "start", "--at", "2099-01-01")
    assert future.code == 2 and "is in the future" in future.err  # a usage error, like argparse's
    assert cli("findings", "move", "1", "start").code == 0
    late = cli("findings", "move", "1", "implemented", "--at", "2099-01-01")
    assert late.code == 1 and "implemented date 2099-01-01 is in the future" in late.err
    assert cli("findings", "show", "1", "--json").json()["state"] == "in_progress"


def test_show_of_an_unknown_finding_and_bad_arguments(cli):
    missing = cli("findings", "show", "9")
    assert missing.code == 1 and missing.err.strip() == "costbot: column 'id': no finding #9 (value 9)"
    assert cli("findings", "move", "1", "verify").code == 2  # not a CLI move
    assert cli("savings", "--quarter", "2026-13").code == 2
    empty = cli("savings", "--team", "")  # a script's unset "$TEAM" is no team, not every team
    assert empty.code != 0 and "no team ''" in empty.err


def test_import_gcp_recommender_from_the_command_line(cli, monkeypatch):
    from google.auth.credentials import AnonymousCredentials

    from finops.sources import config as sources_config
    from tests.finops.sources.test_gcp_recommender import IN_EUR, PROJECT, RESIZE, VM, RecommenderServer

    monkeypatch.setattr(sources_config, "gcp_credentials", AnonymousCredentials)
    with RecommenderServer([RESIZE, IN_EUR]) as server:
        command = ("findings", "import", "gcp-recommender", "--project", PROJECT, "--location", "us-central1-a",
                   "--api-endpoint", server.url)
        first = cli(*command, "--json")
        again = cli(*command)
        asked = {r["path"].split("/recommenders/")[0].rsplit("/", 1)[-1] for r in server.requests}
        denied = cli("findings", "import", "gcp-recommender", "--project", "someone-elses", "--location", "global",
                     "--api-endpoint", server.url)
    assert first.code == 0, first.err
    document = first.json()
    assert document["source"] == "gcp-recommender" and document["existing"] == []
    [created] = document["created"]
    assert (created["team"], created["external_id"], created["estimate_monthly"], created["scope"]) == (
        "unallocated",  # the harness teams.yml matches no GCP project
        f"{PROJECT}|{VM}|CHANGE_MACHINE_TYPE", Decimal("74.57"),
        {"provider": ["Google Cloud"], "sub_account_id": [PROJECT], "resource_id": [VM, "web-1"]})
    assert [(o["reason"]) for o in document["left_out"]] == [
        "its saving is in EUR; costbot's ledger is in USD and does not convert"]
    assert again.code == 0 and again.out.splitlines()[0] == "gcp-recommender: 0 new findings, 1 already imported, " \
                                                            "1 left out"
    assert asked == {"us-central1-a", "us-central1"}  # the zone, and its region for the regional recommenders
    assert denied.code == 1 and denied.err.strip().startswith(
        "costbot: gcp-recommender: Google denied access to the Recommender API (403 Permission denied on project "
        "someone-elses): the identity needs roles/recommender.viewer")
    bad = cli("findings", "import", "gcp-recommender", "--project", PROJECT, "--location", "us-central")
    assert bad.code == 2 and bad.err.strip() == ("costbot: 'us-central' is not a GCP location: a zone like "
                                                 "us-central1-a, a region like us-central1, or global")


def test_gcp_recommender_asks_the_locations_the_projects_cost_data_names(cli, monkeypatch, tmp_path):
    from google.auth.credentials import AnonymousCredentials

    from finops.sources import config as sources_config
    from tests.finops.sources.cost_file_helpers import focus_row
    from tests.finops.sources.test_gcp_recommender import PROJECT, RESIZE, RecommenderServer

    monkeypatch.setattr(sources_config, "gcp_credentials", AnonymousCredentials)
    vm = f"//compute.googleapis.com/projects/{PROJECT}/zones/europe-west1-b/instances/vm-2"
    rows = [focus_row("2026-11-10T00:00:00Z", provider="Google Cloud", account=PROJECT, service=service,
                      region=region) + [resource]
            for service, region, resource in (
                ("Compute Engine", "europe-west1", vm),  # a zone: VMs and disks there, and its region
                ("Cloud SQL", "us-east4", "shop-db"),  # a region without zones: the regional recommenders
                ("BigQuery", "US", ""),  # a multi-region is no Recommender location
                ("Cloud Storage", "", ""))]
    rows.append(focus_row("2026-11-10T00:00:00Z", provider="Google Cloud", account="another-project",
                          service="Compute Engine", region="asia-east1") + [""])
    costs = write_csv(tmp_path / "gcp.csv", [*FOCUS_HEADER, "ResourceId"], rows)
    with RecommenderServer([RESIZE]) as server:
        # Before any of the project's cost data is in: Google's default region.
        default = cli("findings", "import", "gcp-recommender", "--project", PROJECT, "--api-endpoint", server.url)
        asked_default = {r["path"].split("/recommenders/")[0].rsplit("/", 1)[-1] for r in server.requests}
        assert cli("ingest", "file", costs).code == 0
        server.requests.clear()
        found = cli("findings", "import", "gcp-recommender", "--project", PROJECT, "--api-endpoint", server.url,
                    "--json")
        asked = {r["path"].split("/recommenders/")[0].rsplit("/", 1)[-1] for r in server.requests}
    default_locations = {"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "us-central1", "global"}
    assert default.code == 0, default.err
    assert asked_default == default_locations
    assert default.err.strip() == ("gcp-recommender: asking us-central1's zones and global (Google's default "
                                   "region) (--location to choose)")
    assert found.code == 0, found.err
    assert found.json()["existing"] == [1]  # stdout stays one JSON document
    # Also the zone (and its region) and the region without zones; not another project's region.
    assert asked == default_locations | {"europe-west1-b", "europe-west1", "us-east4"}
    assert found.err.strip() == (
        f"gcp-recommender: asking us-central1's zones and global (Google's default region), and the locations "
        f"{PROJECT}'s cost data names: europe-west1-b, us-east4; the cost data names no zone in us-east4: for VM "
        "and disk advice there, give its zones with --location (--location to choose)")


def test_a_verification_outcome_is_said_once_in_the_printed_history() -> None:
    # The verifier's reason begins with its outcome; the line printed "… → not_realized: not realized: …".
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    failed = FindingEvent(at, "system", "not_realized", "verifying", "not_realized",
                          "not realized: realized $0.00/month, 0% of the $1,000.00/month estimate")
    assert history_line(failed) == ("  2026-11-20 10:00 system not_realized verifying → not_realized: realized "
                                    "$0.00/month, 0% of the $1,000.00/month estimate")
    rejected = FindingEvent(at, "U1", "reject", "identified", "rejected", "not realized: we need the headroom")
    assert history_line(rejected).endswith("identified → rejected: not realized: we need the headroom")
