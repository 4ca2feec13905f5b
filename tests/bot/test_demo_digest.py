"""The demo's last chapter on the bundled data: payments' budget alert (warning on Nov 10, edited to
"over" today with one thread reply), the only team over budget, then the week's digests (one per
team, the org's with the scorecard), posted once, in the cents `costbot costs` and `costbot
forecast` print for the same period."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.demo import step_50_digest
from bot.demo.data import DEMO_TODAY
from bot.services.forecast import budgets_of, load_forecast
from finops.forecast import budget_status
from storage.costs import CostStore
from storage.db import Database
from tests.bot.demo_chapter import run_demo_chapter


def test_the_weekly_rhythm_chapter(sqlite_db: Database, tmp_path: Path, monkeypatch) -> None:
    ctx, text = run_demo_chapter(step_50_digest, sqlite_db, tmp_path)

    assert "  payments: warning, alert posted" in text
    assert "── #team-payments (message updated) " in text and "  payments: over, alert raised" in text
    assert text.count("payments is now forecast over budget") == 1
    forecast = load_forecast(CostStore(ctx.db), ctx.teams, DEMO_TODAY)
    levels = {s.team: s.level for s in budget_status(forecast, budgets_of(ctx.teams))}
    assert [team for team, level in levels.items() if level != "ok"] == ["payments"]

    for channel in ("#team-payments", "#team-search", "#team-data", "#team-ml", "#team-web", "#finops"):
        assert f"\n── {channel} ──" in text
    assert "ORGANISATION · WEEK 46 · 9–15 NOV 2026" in text and "FINOPS MATURITY: " in text
    assert "• $0." in text and "per order" in text  # payments' unit cost from the recorded orders
    assert "6 digests posted, each once" in text
    # The second run posts nothing and says so, digest by digest.
    assert "\nWeek 46 · 9–15 Nov 2026: 0 digests posted; 6 already posted this week\n" in text
    assert text.rstrip().splitlines()[-2] == "  #finops: digest-org:2026-W46 (already posted)"
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(
        f"digest-{name}-2026-W46.png" for name in ("payments", "search", "data-platform", "ml", "web", "org"))


def test_the_digests_read_the_cents_costbot_costs_and_forecast_print(sqlite_db: Database, tmp_path: Path,
                                                                       monkeypatch, capsys) -> None:
    ctx, text = run_demo_chapter(step_50_digest, sqlite_db, tmp_path)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("COSTBOT_TEAMS", str(tmp_path / "data" / "teams.yml"))

    def costs(start: str, end: str, by: str) -> dict[tuple[str, ...], str]:
        capsys.readouterr()
        assert main(["costs", "--from", start, "--to", end, "--by", by, "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        return {tuple(row[k] for k in by.split(",")): f"${row['cost']:,.2f}" for row in document["rows"]}

    # The demo's data is complete through Saturday 14 Nov (Sunday is still loading), so the digests
    # compare Monday to Saturday of both weeks, in the cents costbot costs prints for those days.
    last, before = costs("2026-11-09", "2026-11-14", "team"), costs("2026-11-02", "2026-11-07", "team")
    assert (last[("payments",)], before[("payments",)], last[("web",)], before[("web",)]) == (
        "$14,635.82", "$10,657.58", "$2,748.88", "$2,636.84")
    assert "Last week, Mon–Sat $14,635.82 (+$3,978.24, +37.3 % vs $10,657.58)" in text
    assert "Last week, Mon–Sat $2,748.88 (+$112.04, +4.2 % vs $2,636.84)" in text
    assert text.count("Sun 15 Nov is still loading, so only Mon–Sat of each week is compared.") == 6
    ranking = re.findall(r"^([a-z-]+): (\$[\d,.]+), ", text, flags=re.MULTILINE)
    assert ranking == [("ml", "$19,632.04"), ("payments", "$14,635.82"), ("search", "$8,279.52"),
                       ("data-platform", "$6,012.49"), ("web", "$2,748.88")]
    assert all(last[(team,)] == cost for team, cost in ranking)
    assert "payments: $14,635.82, +$3,978.24 (+37.3 %)" in text and "web: $2,748.88, +$112.04 (+4.2 %)" in text
    assert (f"Unallocated, Mon–Sat {last[('unallocated',)]} (+$0.07, <0.1 % vs {before[('unallocated',)]})"
            in text)

    # Payments' services split its days, so they add up to them; S3 of 2-7 Nov reads $436.52 in both.
    assert costs("2026-11-02", "2026-11-07", "team,service")[("payments", "Amazon Simple Storage Service")] == "$436.52"
    payments = text[text.index("PAYMENTS · WEEK 46"):text.index("── #team-payments (file)")]
    movers = re.findall(r"^[▲▼] (.+): ([+-]\$[\d,.]+) \([^)]*\), (\$[\d,.]+) → (\$[\d,.]+)$", payments,
                        flags=re.MULTILINE)
    assert movers == [
        ("Amazon Elastic Compute Cloud", "+$3,971.79", "$7,216.36", "$11,188.15"),
        ("Amazon DynamoDB", "-$35.16", "$1,075.43", "$1,040.27"),
        ("Amazon Relational Database Service", "+$25.76", "$1,699.11", "$1,724.87"),
        ("Amazon Virtual Private Cloud (shared)", "+$14.34", "$230.16", "$244.50"),
        ("Amazon Simple Storage Service", "+$1.51", "$436.52", "$438.03")]

    def dollars(text: str) -> float:
        return float(text.replace("$", "").replace(",", ""))

    assert sum(dollars(m[3]) for m in movers) == pytest.approx(14_635.82, abs=1e-6)
    assert sum(dollars(m[2]) for m in movers) == pytest.approx(10_657.58, abs=1e-6)
    assert "▼ Amazon Virtual Private Cloud (shared): -$11.18 (-7.4 %), $150.08 → $138.90" in text
    assert "▼ Amazon Elastic Block Store: -$4.48 (-0.5 %), $861.60 → $857.12" in text
    assert "▲ Azure Front Door: +$6.18 (+1.0 %), $645.21 → $651.39" in text

    # Month to date is the forecast's figure ($7,545.60 for web, as costbot forecast, costbot costs
    # and App Home say).
    forecast = load_forecast(CostStore(ctx.db), ctx.teams, date(2026, 11, 15))
    assert forecast.team("web").actual_to_date == 7545.6
    assert costs("2026-11-01", "2026-11-14", "team")[("web",)] == "$7,545.60"
    assert "November 2026 to date $7,545.60 of the $20,000.00 budget" in text
    assert ("November 2026 to date $125,314.47 · month-end forecast $258,484.55 "
            "(80 % interval $256,505.50 – $259,547.04)") in text
    assert " %)," in text and "(+0 %)" not in text and "(-0 %)" not in text
