"""Exact money at the edges: micro-units in storage, cents in answers.

Analyses compute in float64 dollars; anything that promises cents (CLI totals, variance
contributors) goes through these helpers so the printed parts add up to the printed total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

MICROS = 1_000_000
K = TypeVar("K")
CENT = Decimal("0.01")


def to_micros(amount: float) -> int:
    """Dollars (float) to integer micro-dollars, rounding half to even."""
    return int(Decimal(repr(float(amount))).scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_micros(micros: int) -> Decimal:
    """Integer micro-dollars to an exact Decimal amount."""
    return Decimal(int(micros)).scaleb(-6)


def cents(amount: float | Decimal | int) -> Decimal:
    """Round to cents, half to even (banker's rounding, as accounting exports do)."""
    value = amount if isinstance(amount, Decimal) else Decimal(repr(float(amount)))
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def split_to_cents(parts: Sequence[float | Decimal], total: Decimal) -> list[Decimal]:
    """Round ``parts`` to cents so they sum exactly to ``total`` (already in cents).

    Largest-remainder method: round each part down to the cent, then hand the missing cents to
    the parts that lost the most in rounding. Keeps every part within one cent of its value.
    """
    exact = [p if isinstance(p, Decimal) else Decimal(repr(float(p))) for p in parts]
    floored = [e.quantize(CENT, rounding="ROUND_FLOOR") for e in exact]
    missing = int(((total - sum(floored, Decimal(0))) / CENT).to_integral_value(rounding=ROUND_HALF_EVEN))
    if abs(missing) > len(exact):
        raise ValueError(f"parts are {missing} cents away from the total: not a rounding difference")
    order = sorted(range(len(exact)), key=lambda i: exact[i] - floored[i], reverse=missing > 0)
    step = CENT if missing > 0 else -CENT
    for i in order[: abs(missing)] if exact else []:
        floored[i] += step
    return floored


def split_named_to_cents(amounts: Mapping[K, Decimal], total: Decimal) -> dict[K, Decimal]:
    """:func:`split_to_cents` of named parts, ordered as ``costbot costs`` orders its rows (largest
    first, then by name) so that a tie between remainders goes the same way on every surface."""
    order = sorted(amounts, key=lambda key: (-amounts[key], str(key)))
    return dict(zip(order, split_to_cents([amounts[key] for key in order], total), strict=True))


def split_nested_to_cents(amounts: Sequence[Decimal], keys: Sequence[tuple], total: Decimal) -> list[Decimal]:
    """Round rows grouped by ``keys`` (outermost first, e.g. (team, service)) to cents, level by level.

    The outermost groups' exact sums are split to ``total`` (:func:`split_to_cents`, groups
    ordered by their size, then key, so the split is the one a grouping by the outer key alone
    gives), then each group's rows to its figure, and so on: at every level the printed parts add
    up to the printed group, so ``--by team,service`` shows each team at its ``--by team`` total.
    """
    if not amounts:
        return []
    if len(keys[0]) == 0:
        return split_to_cents(list(amounts), total)
    groups: dict[object, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key[0], []).append(i)
    figures = split_named_to_cents({g: sum((amounts[i] for i in rows), Decimal(0)) for g, rows in groups.items()},
                                   total)
    result: list[Decimal] = [Decimal(0)] * len(amounts)
    for group, figure in figures.items():
        rows = groups[group]
        for i, part in zip(rows, split_nested_to_cents([amounts[i] for i in rows], [keys[i][1:] for i in rows],
                                                       figure), strict=True):
            result[i] = part
    return result


def format_usd(amount: float | Decimal, *, signed: bool = False) -> str:
    """``$12,345.67`` (``+$12.00`` / ``-$3.10`` with ``signed``)."""
    value = cents(amount)
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}${abs(value):,.2f}"
