"""The demo's last chapter on the bundled data: payments' budget alert (warning on Nov 10, edited to
"over" today with one thread reply), the only team over budget, then the week's digests (one per
team, the org's with the scorecard), posted once."""

from __future__ import annotations

from pathlib import Path

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
    assert text.count("payments is now forecast *over budget*") == 1
    forecast = load_forecast(CostStore(ctx.db), ctx.teams, DEMO_TODAY)
    levels = {s.team: s.level for s in budget_status(forecast, budgets_of(ctx.teams))}
    assert [team for team, level in levels.items() if level != "ok"] == ["payments"]

    for channel in ("#team-payments", "#team-search", "#team-data", "#team-ml", "#team-web", "#finops"):
        assert f"\n── {channel} ──" in text
    assert "ORGANISATION · WEEK 46 · 9–15 NOV 2026" in text and "FINOPS MATURITY: " in text
    assert "• *$0." in text and "per order" in text  # payments' unit cost from the recorded orders
    assert "6 digests posted, each once" in text and text.rstrip().splitlines()[-2] == "  0 posted"
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(
        f"digest-{name}-2026-W46.png" for name in ("payments", "search", "data-platform", "ml", "web", "org"))
