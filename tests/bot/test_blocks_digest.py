"""Digest renderers: "Show more" answers stay within the limits and point to a command that lists all;
the lines say what each figure is (an estimate, a monthly rate, an 80 % interval) and never print a
change as 0 %."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from bot.blocks.digest import (
    change_text,
    loading_note,
    more_message,
    mover_line,
    org_digest_message,
    preview_note,
    rank_line,
    team_digest_message,
    teams_pointer,
)
from finops.digest import Change, TeamRank, Week, org_digest, team_digest
from finops.forecast import ForecastRange, MonthForecast, TeamForecast
from finops.maturity import FindingSummary
from finops.ownership import DRIVER_COLUMNS
from tests.slack.fake_slack import check_message

WEEK = Week.from_label("2026-W46")


def test_every_team_past_the_block_limit_points_to_the_weeks_costs_by_team() -> None:
    week = Week.from_label("2026-W46")
    lines = [f"*platform-infrastructure-team-{i:04d}*: $1,000.00, +$10.00 (+1.0 %)" for i in range(5000)]
    message = more_message(f"Every team by its change, {week.title}", lines, pointer=teams_pointer(week))
    assert len(message["blocks"]) <= 50 and check_message(message) == (None, [])
    more = message["blocks"][-1]["elements"][0]["text"]
    shown = sum(b["text"]["text"].count("\n") + 1 for b in message["blocks"] if b["type"] == "section")
    assert more == (f"…and {5000 - shown} more: `costbot costs --by team --from 2026-11-09 --to 2026-11-15` lists "
                    "every team's spend of the week.")


def test_a_change_in_percent_has_one_decimal_and_is_never_shown_as_zero() -> None:
    # The demo's payments S3 and web Front Door: +0.4 % and -0.1 %, not "+0 %" and "-0 %".
    assert mover_line(Change("Amazon Simple Storage Service", Decimal("511.18"), Decimal("509.00"))) == (
        ":arrow_up_small: Amazon Simple Storage Service: +$2.18 (+0.4 %), $509.00 → $511.18")
    assert mover_line(Change("Azure Front Door", Decimal("769.76"), Decimal("770.58"))) == (
        ":arrow_down_small: Azure Front Door: -$0.82 (-0.1 %), $770.58 → $769.76")
    assert mover_line(Change("Amazon EC2", Decimal("12971.45"), Decimal("8153.14"))) == (
        ":arrow_up_small: Amazon EC2: +$4,818.31 (+59.1 %), $8,153.14 → $12,971.45")
    # Too small for one decimal: "<0.1 %", in every kind of line.
    tiny = Change("web", Decimal("20000.81"), Decimal("20000.00"))
    assert mover_line(tiny) == ":arrow_up_small: web: +$0.81 (<0.1 %), $20,000.00 → $20,000.81"
    assert change_text(tiny) == "$20,000.81 (+$0.81, <0.1 % vs $20,000.00)"
    assert rank_line(TeamRank(tiny, None, None)) == "*web*: $20,000.81, +$0.81 (<0.1 %)"
    assert mover_line(Change("S3", Decimal("5.00"), Decimal("0"))) == ":arrow_up_small: S3: +$5.00 (new), $0.00 → $5.00"


def _costs() -> pd.DataFrame:
    return pd.DataFrame([{"ChargePeriodStart": pd.Timestamp(day), "x_Team": "payments", "x_AllocationRule": "",
                          "ServiceName": "Amazon EC2", "ChargeCategory": "Usage", "EffectiveCost": cost}
                         for day, cost in (("2026-11-03", 1000.0), ("2026-11-10", 1200.0))])


def test_the_findings_line_says_estimate_and_the_realized_line_says_a_month() -> None:
    verified = FindingSummary(1, "Rightsize RDS", "payments", "verified", 5000.0, date(2026, 8, 1), date(2026, 9, 1),
                              date(2026, 10, 20), 5281.35)
    digest = team_digest("payments", "#team-payments", WEEK, costs=_costs(), complete_through=WEEK.end,
                         forecast=None, budget=None, anomalies=(), findings=[verified])
    sections = [b["text"]["text"] for b in team_digest_message(digest)["blocks"] if b["type"] == "section"]
    assert "*Findings*: verified 1 (est. $5,000.00/month)" in sections
    assert ("*Savings realized a month, findings verified in Q4 2026*: $5,281.35/month from 1 finding"
            in sections)


def test_the_org_digest_labels_its_forecast_interval_with_its_coverage() -> None:
    forecast = MonthForecast(month="2026-11", as_of=WEEK.end, complete_through=WEEK.end, coverage=0.8,
                             interval_months=12, teams=(),
                             org=ForecastRange(forecast=2400.0, low=2300.0, high=2550.5, actual_to_date=1200.0))
    digest = org_digest("#finops", WEEK, costs=_costs(), complete_through=WEEK.end, teams=("payments",),
                        forecast=forecast, budgets={}, untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}),
                        anomalies=[], findings=(), scorecard=None)
    blocks = org_digest_message(digest)["blocks"]
    assert blocks[1]["text"]["text"] == (
        "*Last week* $1,200.00 (+$200.00, +20.0 % vs $1,000.00)\n*November 2026 to date* $1,200.00 · "
        "month-end forecast $2,400.00 (80 % interval $2,300.00 – $2,550.50)")
    records = next(b["text"]["text"] for b in blocks if b["type"] == "section"
                   and b["text"]["text"].startswith("*Open anomalies*"))
    assert records.endswith("*Savings realized a month, findings verified in Q4 2026*: $0.00/month")


def test_a_week_still_loading_says_which_days_it_compares() -> None:
    costs = pd.DataFrame([{"ChargePeriodStart": pd.Timestamp(day), "x_Team": "payments", "x_AllocationRule": "",
                           "ServiceName": "Amazon EC2", "ChargeCategory": "Usage", "EffectiveCost": cost}
                          for day, cost in (("2026-11-03", 1000.0), ("2026-11-08", 500.0), ("2026-11-10", 1200.0),
                                            ("2026-11-14", 90.0), ("2026-11-15", 40.0))])
    digest = team_digest("payments", "#team-payments", WEEK, costs=costs, complete_through=date(2026, 11, 13),
                         forecast=None, budget=None, anomalies=(), findings=())
    message = team_digest_message(digest)
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    # Mon-Fri of each week: $1,000.00 before (Sunday 8 Nov's $500 is not compared), $1,200.00 last.
    assert sections[0].startswith("*Last week, Mon–Fri* $1,200.00 (+$200.00, +20.0 % vs $1,000.00)\n")
    assert sections[1].startswith("*Top movers* (by service, against the same days of the week before)\n")
    assert message["blocks"][-1]["elements"][0]["text"].endswith(
        "Data is complete through Fri 13 Nov; Sat 14 to Sun 15 Nov are still loading, so only Mon–Fri of each "
        "week is compared.")
    assert message["text"] == ("payments weekly digest, Week 46 · 9–15 Nov 2026: $1,200.00 for Mon–Fri "
                               "(+$200.00 vs the same days of the week before)")
    org = org_digest("#finops", WEEK, costs=costs, complete_through=date(2026, 11, 14), teams=("payments",),
                     forecast=None, budgets={}, untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}),
                     anomalies=[], findings=(), scorecard=None)
    blocks = org_digest_message(org)["blocks"]
    assert blocks[1]["text"]["text"].startswith("*Last week, Mon–Sat* $1,290.00 (+$290.00, +29.0 % vs $1,000.00)")
    assert blocks[2]["text"]["text"].startswith("*Teams by change, Mon–Sat*\n*payments*: $1,290.00, +$290.00")
    assert any(b["type"] == "context" and b["elements"][0]["text"].endswith(
        "Data is complete through Sat 14 Nov; Sun 15 Nov is still loading, so only Mon–Sat of each week is "
        "compared.") for b in blocks)
    assert teams_pointer(WEEK, date(2026, 11, 14)) == (
        "`costbot costs --by team --from 2026-11-09 --to 2026-11-14` lists every team's spend of Mon–Sat.")
    # Loading days across the end of a month name both months; one day compared says so.
    week_44 = Week("2026-W44", date(2026, 10, 26), date(2026, 11, 1))
    assert loading_note(week_44, date(2026, 10, 30)) == (
        " Data is complete through Fri 30 Oct; Sat 31 Oct to Sun 1 Nov are still loading, so only Mon–Fri of "
        "each week is compared.")
    assert loading_note(week_44, date(2026, 10, 26)).endswith(", so only Mon of each week is compared.")


def test_the_preview_note_says_where_the_weeks_digest_stands() -> None:
    schedule = {"cron": "0 9 * * MON", "timezone": "Europe/Paris"}
    posted = datetime(2026, 11, 16, 8, 0, 12, tzinfo=UTC)  # 09:00 in Paris
    assert preview_note("C0123456789", posted_at=posted, started=True, with_chart=True, **schedule) == (
        "Already posted in <#C0123456789> on Mon 16 Nov 09:00 (Europe/Paris); this preview is that digest as it "
        "would read now. The next one goes at `0 9 * * MON` (Europe/Paris).")
    assert preview_note("#team-payments", posted_at=None, started=True, with_chart=False, **schedule) == (
        "Started in #team-payments, not posted in full yet (a placeholder waiting for the week's cost data, or a "
        "retry): the bot's hourly catch-up or `costbot digest` completes it in place.")
    # Not claimed yet: the schedule, and no chart promised for a week the cost data does not reach.
    assert preview_note("#team-payments", posted_at=None, started=False, with_chart=False, **schedule) == (
        "Preview, not posted. The digest goes to #team-payments at `0 9 * * MON` (Europe/Paris); if the week's "
        "cost data is not in by then, as a placeholder completed in place once it is.")


def test_a_team_with_no_spend_either_week_is_told_so_and_where_to_look() -> None:
    # payments has spend; idle (its match rules find nothing) has none either week.
    digest = team_digest("idle", "#team-idle", WEEK, costs=_costs(), complete_through=WEEK.end,
                         forecast=None, budget=None, anomalies=(), findings=())
    message = team_digest_message(digest)
    # It read "*Last week* $0.00 ($0.00 vs $0.00)" and pointed to `/cost why` for "the change".
    assert message["blocks"][1]["text"]["text"].splitlines()[0] == (
        "*Last week* no spend allocated to idle, nor the week before. If idle runs anything, the `match` rules "
        "of teams.yml find none of it: `costbot coverage` lists the spend no team owns.")
    assert message["blocks"][-1]["elements"][0]["text"] == "Effective cost, shared costs split; the chart is in the thread."
    assert message["text"] == "idle weekly digest, Week 46 · 9–15 Nov 2026: no spend (none the week before either)"
    assert rank_line(TeamRank(Change("idle", Decimal(0), Decimal(0)), None, None)) == "*idle*: no spend either week"


def test_a_week_ending_in_a_month_the_data_does_not_reach_yet_has_no_month_to_date() -> None:
    # Week 44 ends on Sun 1 Nov and the data on Sat 31 Oct: no day of November is in yet. It read
    # "*November 2026 to date* $0.00 of the $3,000.00 budget (0 %, through 31 Oct)", a month with nothing spent.
    week_44 = Week("2026-W44", date(2026, 10, 26), date(2026, 11, 1))
    costs = pd.DataFrame([{"ChargePeriodStart": day, "x_Team": "payments", "x_AllocationRule": "",
                           "ServiceName": "Amazon EC2", "ChargeCategory": "Usage", "EffectiveCost": 100.0}
                          for day in pd.date_range("2026-10-01", "2026-10-31")])
    team = TeamForecast("payments", 3100.0, 3000.0, 3200.0, 0.0)
    forecast = MonthForecast("2026-11", date(2026, 11, 1), date(2026, 10, 31), 0.8, 12,
                             ForecastRange(3100.0, 3000.0, 3200.0, 0.0), (team,))
    through = date(2026, 10, 31)
    budgeted = team_digest("payments", "#team-payments", week_44, costs=costs, complete_through=through,
                           forecast=forecast, budget=3000.0, anomalies=(), findings=())
    assert team_digest_message(budgeted)["blocks"][1]["text"]["text"].splitlines()[1] == (
        "*November 2026*: no day of it is in the cost data yet (complete through 31 Oct) · month-end forecast "
        "$3,100.00, from past months, against the $3,000.00 budget: :red_circle: 103 % of budget")
    unbudgeted = team_digest("payments", "#team-payments", week_44, costs=costs, complete_through=through,
                             forecast=forecast, budget=None, anomalies=(), findings=())
    assert team_digest_message(unbudgeted)["blocks"][1]["text"]["text"].splitlines()[1] == (
        "*November 2026*: no day of it is in the cost data yet (complete through 31 Oct; no budget) · month-end "
        "forecast $3,100.00, from past months")
    org = org_digest("#finops", week_44, costs=costs, complete_through=through, teams=("payments",),
                     forecast=forecast, budgets={"payments": 3000.0},
                     untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}), anomalies=[], findings=(),
                     scorecard=None)
    assert org_digest_message(org)["blocks"][1]["text"]["text"].splitlines()[1] == (
        "*November 2026*: no day of it is in the cost data yet (complete through 31 Oct) · month-end forecast "
        "$3,100.00, from past months (80 % interval $3,000.00 – $3,200.00)")
    # One day of the month in: month to date as before.
    in_month = team_digest("payments", "#team-payments", week_44, costs=costs, complete_through=date(2026, 11, 1),
                           forecast=forecast, budget=3000.0, anomalies=(), findings=())
    assert team_digest_message(in_month)["blocks"][1]["text"]["text"].splitlines()[1].startswith(
        "*November 2026 to date* $0.00 of the $3,000.00 budget (0 %, through 1 Nov)")


def test_a_change_of_a_negative_line_has_the_sign_of_its_change_in_dollars() -> None:
    # Credits growing from -$500.00 to -$800.00: a fall of $300.00, and it read "(+60.0 %)".
    credits = Change("AWS Credits", Decimal("-800.00"), Decimal("-500.00"))
    assert mover_line(credits) == ":arrow_down_small: AWS Credits: -$300.00 (-60.0 %), -$500.00 → -$800.00"
    refunded = Change("payments", Decimal("50.00"), Decimal("-100.00"))
    assert change_text(refunded) == "$50.00 (+$150.00, +150.0 % vs -$100.00)"
    assert rank_line(TeamRank(refunded, None, None)) == "*payments*: $50.00, +$150.00 (+150.0 %)"


def test_a_month_to_date_that_begins_with_the_cost_data_says_so() -> None:
    # A first ingest from Tue 10 Nov: November's month to date holds 10-14 Nov only. It read
    # "(17 %, through 14 Nov)", as if the month's first nine days had cost nothing.
    costs = pd.DataFrame([{"ChargePeriodStart": day, "x_Team": "payments", "x_AllocationRule": "",
                           "ServiceName": "Amazon EC2", "ChargeCategory": "Usage", "EffectiveCost": 100.0}
                          for day in pd.date_range("2026-11-10", "2026-11-14")])
    team = TeamForecast("payments", 3000.0, 3000.0, 3000.0, 500.0)
    forecast = MonthForecast("2026-11", date(2026, 11, 16), date(2026, 11, 14), 0.8, 0,
                             ForecastRange(3000.0, 3000.0, 3000.0, 500.0), (team,), estimated_first_days=9)
    through, starts = date(2026, 11, 14), date(2026, 11, 10)
    budgeted = team_digest("payments", "#team-payments", WEEK, costs=costs, complete_through=through,
                           forecast=forecast, budget=3000.0, anomalies=(), findings=(), data_from=starts)
    assert team_digest_message(budgeted)["blocks"][1]["text"]["text"].splitlines()[1] == (
        "*November 2026 to date* $500.00 of the $3,000.00 budget (17 %, from 10 Nov, the cost data's first "
        "day, through 14 Nov) · month-end forecast $3,000.00: :red_circle: 100 % of budget")
    org = org_digest("#finops", WEEK, costs=costs, complete_through=through, teams=("payments",),
                     forecast=forecast, budgets={"payments": 3000.0},
                     untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}), anomalies=[], findings=(),
                     scorecard=None, data_from=starts)
    assert org_digest_message(org)["blocks"][1]["text"]["text"].splitlines()[1] == (
        "*November 2026 to date* $500.00 (from 10 Nov, the cost data's first day, through 14 Nov) · month-end forecast $3,000.00")
