"""What an anomaly is, as the rest of costbot sees it: plain, printable dataclasses.

Detection (:mod:`finops.anomalies`) and the AWS import (:mod:`finops.sources.aws_anomalies`)
produce :class:`Anomaly` objects; storage keeps them keyed by :attr:`Anomaly.key`; the CLI and the
Slack renderers read them. Money is float64 dollars like the cost frame, but an anomaly's three
figures are promised to the cent: expected and actual are rounded to cents first and the impact
is their difference (:attr:`Anomaly.impact_cents`), so expected + impact = actual in every
message, list and JSON document; each dimension's root-cause impacts add up to it too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from finops.money import cents, split_to_cents

Direction = Literal["increase", "decrease"]


@dataclass(frozen=True)
class Contributor:
    """One value of one dimension that carries part of an anomaly's impact.

    Per dimension the shares of an anomaly's contributors sum to 1 (the remainder beyond the
    largest few is reported as the value ``"(other)"``).
    """

    dimension: str  # FOCUS column name: SubAccountId, RegionId, SkuId, ResourceId, ServiceName
    value: str
    impact: float
    share: float


@dataclass(frozen=True)
class SeriesPoint:
    """One day of an anomaly's chart: the actual cost and the expected band."""

    day: date
    actual: float
    expected: float
    low: float
    high: float


@dataclass(frozen=True)
class Anomaly:
    """One event on one scope, from its first day (``start``) to its last (``end``, None while open).

    ``key`` is the event's stable identity (scope and start): a re-run of detection, or a run on
    restated data, produces the same key, so storage updates instead of inserting. ``impact`` is
    actual minus expected summed over the anomaly's days so far; ``impact_pct`` is impact over
    expected (None when nothing was expected, as for new spend).

    ``kind``: "spike" (an increase of up to three days), "shift" (a longer one), "new_spend"
    (spend where there was none), "drop" (a decrease), "aws" (imported from AWS Cost Anomaly
    Detection). ``level``: "series" (provider x account x service x team x charge category),
    "region" (a region inside a series, for new spend), "service" (a team's service across its
    accounts), "account" (a team's account across its services), "aws".
    """

    key: str
    detected_on: date
    start: date
    end: date | None
    last_seen: date
    level: str
    dimensions: dict[str, str]
    team: str
    kind: str
    direction: Direction
    expected_cost: float
    actual_cost: float
    impact: float
    impact_pct: float | None
    alert: bool
    root_cause: tuple[Contributor, ...] = ()
    series: tuple[SeriesPoint, ...] = ()
    source: str = "costbot"
    source_id: str = ""  # the provider's own id for imported anomalies (AWS AnomalyId)

    @property
    def scope_id(self) -> str:
        """The scope part of the key: the same for every anomaly of one series."""
        return self.key.rsplit("|", 1)[0]

    @property
    def is_open(self) -> bool:
        """True while the anomaly has no end day."""
        return self.end is None

    @property
    def impact_cents(self) -> Decimal:
        """Actual minus expected, each rounded to the cent first: the printed figures add up."""
        return cents(self.actual_cost) - cents(self.expected_cost)

    def root_cause_cents(self) -> list[Decimal]:
        """Each contributor's impact in cents, per dimension adding up to :attr:`impact_cents`
        exactly (largest remainder); plain rounding where a dimension's parts do not sum to the
        impact (an imported anomaly whose provider lists only some contributors)."""
        by_dimension: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(self.root_cause):
            by_dimension[c.dimension].append(i)
        out = [cents(c.impact) for c in self.root_cause]
        total = self.impact_cents
        for positions in by_dimension.values():
            parts = [self.root_cause[i].impact for i in positions]
            try:
                split = split_to_cents(parts, total)
            except ValueError:  # not a split of this impact: keep each part as it is
                continue
            for i, value in zip(positions, split, strict=True):
                out[i] = value
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (ISO dates, money in cents: expected + impact = actual) for the CLI
        and the outbox."""

        def money(x: float) -> float:
            return float(cents(x))

        return {
            "id": self.key,
            "key": self.key,
            "detected_on": self.detected_on.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "last_seen": self.last_seen.isoformat(),
            "level": self.level,
            "dimensions": dict(self.dimensions),
            "team": self.team,
            "kind": self.kind,
            "direction": self.direction,
            "expected_cost": money(self.expected_cost),
            "actual_cost": money(self.actual_cost),
            "impact": float(self.impact_cents),
            "impact_pct": None if self.impact_pct is None else round(self.impact_pct, 4),
            "alert": self.alert,
            "root_cause": [
                {"dimension": c.dimension, "value": c.value, "impact": float(part), "share": round(c.share, 4)}
                for c, part in zip(self.root_cause, self.root_cause_cents(), strict=True)
            ],
            "series": [
                {"day": p.day.isoformat(), "actual": money(p.actual), "expected": money(p.expected),
                 "low": money(p.low), "high": money(p.high)}
                for p in self.series
            ],
            "source": self.source,
            "source_id": self.source_id,
        }


@dataclass(frozen=True)
class DetectionResult:
    """The outcome of one daily run.

    ``new``: anomalies raised by this run. ``updated``: open anomalies passed in that are still
    open, with their figures brought up to date. ``ended``: open anomalies passed in that are over
    (``end`` set). Every anomaly passed in appears in exactly one of ``updated`` / ``ended``
    unless its scope is no longer in the data (then it is returned unchanged in ``updated``).
    """

    new: tuple[Anomaly, ...] = ()
    updated: tuple[Anomaly, ...] = ()
    ended: tuple[Anomaly, ...] = ()
