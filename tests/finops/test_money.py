"""Cents that add up: the splits every printed table relies on."""

from __future__ import annotations

from decimal import Decimal

from finops.money import split_named_to_cents, split_nested_to_cents, split_to_cents

D = Decimal


def test_split_to_cents_gives_the_missing_cent_to_the_part_that_lost_most() -> None:
    assert split_to_cents([D("1.004"), D("1.0043"), D("1.0046")], D("3.01")) == [D("1.00"), D("1.00"), D("1.01")]


def test_nested_split_keeps_each_outer_group_at_its_own_figure() -> None:
    # Team a: three services at $1.004 ($3.012: $3.01 by team); team b: two at $1.0045 ($2.009:
    # $2.01 by team); $5.021 in all: $5.02. Split flat, b's two rows win both missing cents
    # (remainders 0.45 beat 0.4) and print b at $2.02, a at $3.00; level by level, each team
    # keeps its --by team figure and its services add up to it.
    amounts = [D("1.004"), D("1.004"), D("1.004"), D("1.0045"), D("1.0045")]
    keys = [("a", "s1"), ("a", "s2"), ("a", "s3"), ("b", "s1"), ("b", "s2")]
    assert split_to_cents(amounts, D("5.02")) == [D("1.00"), D("1.00"), D("1.00"), D("1.01"), D("1.01")]
    nested = split_nested_to_cents(amounts, keys, D("5.02"))
    assert nested == [D("1.01"), D("1.00"), D("1.00"), D("1.01"), D("1.00")]
    assert [sum(nested[:3]), sum(nested[3:])] == split_to_cents([D("3.012"), D("2.009")], D("5.02"))


def test_one_level_is_the_plain_split() -> None:
    amounts = [D("2.006"), D("1.0049"), D("1.0041")]
    keys = [("x",), ("y",), ("z",)]
    assert split_nested_to_cents(amounts, keys, D("4.02")) == split_to_cents(amounts, D("4.02"))
    assert split_nested_to_cents([], [], D("0")) == []


def test_named_parts_tie_as_costbot_costs_orders_its_rows() -> None:
    # Equal remainders: the cent goes to the larger part, then to the first name, whatever the
    # order the parts come in.
    parts = {"web": D("1.005"), "ads": D("1.005"), "ml": D("2.005")}
    assert split_named_to_cents(parts, D("4.02")) == {"ml": D("2.01"), "ads": D("1.01"), "web": D("1.00")}
    assert split_named_to_cents(dict(reversed(parts.items())), D("4.02")) == split_named_to_cents(parts, D("4.02"))
