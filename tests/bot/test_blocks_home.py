"""The Home view as a pure function: a viewer on more teams than the view shows is told so."""

from __future__ import annotations

from datetime import date

from bot.blocks.home import MAX_TEAMS, MAX_VIEW_BLOCKS, TeamHome, home_view


def home(team: str) -> TeamHome:
    return TeamHome(team=team, channel=f"#team-{team}", month="2026-11", month_to_date=100.0,
                    complete_through=date(2026, 11, 15), forecast=200.0, budget=None, anomalies=[], findings=[],
                    units=[])


def headers(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


def test_a_viewer_on_more_teams_than_shown_is_told_how_many_are_left_out() -> None:
    # The handler loads only the first MAX_TEAMS teams and passes how many the viewer is on.
    names = ["a", "b", "c", "d", "e"]
    view = home_view([home(n) for n in names[:MAX_TEAMS]], viewer_has_team=True, team_count=len(names))
    assert headers(view) == ["a · cost dashboard", "b · cost dashboard", "c · cost dashboard"]
    assert view["blocks"][-1]["elements"][0]["text"] == (
        "You are on 5 teams; the first 3 are shown. `/cost budget` covers every team.")
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    # Given all of them, it shows the first MAX_TEAMS and says the same.
    assert home_view([home(n) for n in names], viewer_has_team=True) == view


def test_a_viewer_on_as_many_teams_as_shown_gets_no_note() -> None:
    view = home_view([home("a"), home("b")], viewer_has_team=True, team_count=2)
    assert headers(view) == ["a · cost dashboard", "b · cost dashboard"]
    assert not any("You are on" in str(b) for b in view["blocks"])
    assert view["blocks"][1]["text"]["text"] == ("*November 2026*: $100.00 spent through 15 Nov (no budget)\n"
                                                 "Month-end forecast $200.00")


def test_a_finance_approvers_budgets_stay_within_the_view_for_any_number_of_teams() -> None:
    lines = [f":large_green_circle: *platform-infrastructure-team-{i:04d}*: forecast $1,000.00 of $1,500.00 (67 %), "
             "$500.00 spent" for i in range(3000)]
    view = home_view([], viewer_has_team=False, org_line="*Organisation, November 2026*: $1.00 spent",
                     budget_lines=lines)
    blocks = view["blocks"]
    assert len(blocks) <= MAX_VIEW_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    shown = sum(b["text"]["text"].count("platform-infrastructure") for b in blocks if b["type"] == "section")
    more = blocks[-2]["elements"][0]["text"]
    assert more == f"…and {3000 - shown} more teams: `costbot forecast` lists them all."
    assert blocks[-1]["elements"][0]["text"].startswith("`/cost budget` shows the same")
    # No budget anywhere: said, not an empty heading.
    empty = home_view([], viewer_has_team=False, budget_lines=[])
    assert empty["blocks"][1]["text"]["text"] == (
        "*Budgets*\nNo team has a budget: add `budget_monthly` to teams in teams.yml.")
