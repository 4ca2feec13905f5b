"""The demo's variance chapter on the bundled data: the finance lead's `/cost why last quarter`,
answered in the channel with its waterfall chart, then read out in words."""

from __future__ import annotations

from pathlib import Path

from bot.demo import step_40_variance
from storage.db import Database
from tests.bot.demo_chapter import run_demo_chapter


def test_the_variance_chapter(sqlite_db: Database, tmp_path: Path) -> None:
    ctx, text = run_demo_chapter(step_40_variance, sqlite_db, tmp_path)

    assert "\n── #finops ─" in text and "WHY SPEND CHANGED: Q2 2026 → Q3 2026" in text
    assert "Spend rose $63,124.77 (+10.0 %) from Q2 2026 to Q3 2026 ($630,275.75 → $693,400.52)." in text
    assert "ml / Amazon SageMaker / ml.p4d.24xlarge-Training  +$38,654.02" in text
    assert "  - web / Azure App Service: rate +$3,827.27 (the same use cost more per unit)" in text
    assert "  - day count +$6,202.00 over all lines: Q3 2026 has 92 days, Q2 2026 91" in text
    assert [p.name for p in (tmp_path / "charts").iterdir()] == ["why-20260401-20260701.png"]
    assert text.rstrip().endswith('The same answer for scripts: costbot why "last quarter" --json')
