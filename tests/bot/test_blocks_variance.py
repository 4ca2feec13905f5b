"""Block Kit of a variance answer: what the "Explained by" section says of each anomaly and finding."""

from __future__ import annotations

from bot.blocks.variance import variance_message
from finops.variance import explain_variance
from tests.finops.test_variance import ANOMALY, FINDING, ask, frame, quarter_costs, spend


def test_explainers_say_which_increase_or_decrease_they_are_part_of() -> None:
    answer = explain_variance(quarter_costs(), ask("Q3 2026"), explainers=[FINDING, ANOMALY])
    blocks = variance_message(answer)["blocks"]
    (explained,) = [b for b in blocks if b.get("text", {}).get("text", "").startswith("*Explained by*")]
    assert explained["text"]["text"] == (
        "*Explained by*\n"
        "• $1,500.00 of the increase: anomaly #41 (open) EC2 spike in payments\n"
        "• $920.00 of the decrease in search / Amazon OpenSearch: finding #17 (verified) Rightsize the search cluster")
    assert blocks[-1]["elements"][0]["text"] == "metric: effective · explained: 100 % of the movement"


def test_only_the_first_page_says_how_much_is_explained() -> None:
    # 12 services, service i using i more hours a day in August (all usage): page 1 lists 10 and
    # folds S01 and S02 (+$93.00 of +$2,418.00) into "other", which names no cause.
    costs = frame(*(part for i in range(1, 13) for part in (
        spend("2026-07-01", "2026-07-31", daily=10.0, quantity=10, service=f"S{i:02d}"),
        spend("2026-08-01", "2026-08-31", daily=10.0 + i, quantity=10 + i, service=f"S{i:02d}"))))
    first = explain_variance(costs, ask("2026-08"), top_n=10)
    second = explain_variance(costs, ask("2026-08"), top_n=20)  # what "Show more" computes for page 2
    assert (first.explained_share, second.explained_share) == (0.9615, 1.0)  # 1 - 93 / 2418
    page_one = variance_message(first)["blocks"]
    assert page_one[-1]["type"] == "actions"  # Show more
    assert page_one[-2]["elements"][0]["text"] == "metric: effective · explained: 96 % of the movement"
    page_two = variance_message(second, page=2)["blocks"]
    assert page_two[-1]["elements"][0]["text"] == "metric: effective"  # not another figure for the same question
