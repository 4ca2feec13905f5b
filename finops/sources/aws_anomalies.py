"""AWS Cost Anomaly Detection: its anomalies as costbot anomalies, and feedback written back.

Teams that already run AWS's own detector see its findings in the same list as costbot's
(``kind="aws"``, key ``aws:<AnomalyId>``). AWS's model decided them, so they are imported as
they are: AWS's expected and actual spend, impact, and root causes (service, account, region,
usage type, each with the dollars it contributed). They arrive with ``team="unallocated"``: the
caller routes them with the ownership rules, from ``dimensions`` (account and service).

When someone answers an imported anomaly in Slack, :func:`send_aws_feedback` tells AWS, which
uses the answer to tune its model: Acknowledge -> ``YES`` (a real anomaly), Not ours -> ``NO``
(not an anomaly, from AWS's point of view: the spend is someone else's expected work),
Expected -> ``PLANNED_ACTIVITY``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from finops.anomaly_model import Anomaly, Contributor
from finops.model import UNALLOCATED
from finops.money import cents
from finops.sources.aws_ce import aws_error_reason
from finops.sources.connector import SourceError

SOURCE = "aws-anomalies"
KEY_PREFIX = "aws:"

Feedback = Literal["acknowledge", "not_ours", "expected"]
FEEDBACK: dict[str, str] = {"acknowledge": "YES", "not_ours": "NO", "expected": "PLANNED_ACTIVITY"}

# AWS root cause field -> (our dimension name, the frame column the contributor names)
ROOT_CAUSE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("LinkedAccount", "sub_account_id", "SubAccountId"),
    ("Service", "service", "ServiceName"),
    ("Region", "region", "RegionId"),
    ("UsageType", "usage_type", "UsageType"),  # AWS's usage type; FOCUS has no column of its own
)


def fetch_aws_anomalies(ce_client: Any, start: date, end: date, *, monitor_arn: str | None = None) -> list[Anomaly]:
    """Every anomaly AWS reports between ``start`` and ``end`` (inclusive), all pages.

    ``start``/``detected_on`` are AWS's first day of detection, ``end``/``last_seen`` its last.
    Raises :class:`SourceError` when AWS refuses or cannot be reached.
    """
    params: dict[str, Any] = {"DateInterval": {"StartDate": start.isoformat(), "EndDate": end.isoformat()}}
    if monitor_arn:
        params["MonitorArn"] = monitor_arn
    return [_anomaly(item) for item in _pages(ce_client, params)]


def send_aws_feedback(ce_client: Any, anomaly_id: str, feedback: Feedback) -> str:
    """Record a Slack answer on an imported anomaly with AWS; returns AWS's anomaly id.

    ``anomaly_id`` is AWS's id or our key (``aws:<id>``); ``feedback`` is the button pressed:
    ``acknowledge``, ``not_ours`` or ``expected``.
    """
    if feedback not in FEEDBACK:
        raise ValueError(f"unknown feedback {feedback!r}: use one of {', '.join(FEEDBACK)}")
    aws_id = anomaly_id.removeprefix(KEY_PREFIX)
    try:
        response = ce_client.provide_anomaly_feedback(AnomalyId=aws_id, Feedback=FEEDBACK[feedback])
    except (ClientError, BotoCoreError) as error:
        raise SourceError(SOURCE, aws_error_reason(error, "Cost Anomaly Detection")) from error
    return str(response["AnomalyId"])


def _pages(ce_client: Any, params: dict[str, Any]) -> Iterator[Mapping[str, Any]]:
    while True:
        try:
            page = ce_client.get_anomalies(**params)
        except (ClientError, BotoCoreError) as error:
            raise SourceError(SOURCE, aws_error_reason(error, "Cost Anomaly Detection")) from error
        yield from page.get("Anomalies", [])
        token = page.get("NextPageToken")
        if not token:
            return
        params = {**params, "NextPageToken": token}


def _anomaly(item: Mapping[str, Any]) -> Anomaly:
    start = _day(item.get("AnomalyStartDate")) or _day(item.get("AnomalyEndDate"))
    if start is None:
        raise SourceError(SOURCE, f"anomaly {item['AnomalyId']} has no start or end date")
    end = _day(item.get("AnomalyEndDate"))
    last_seen = end or start
    impact_block = item.get("Impact", {})
    impact = float(impact_block.get("TotalImpact", impact_block.get("MaxImpact", 0.0)))
    actual = float(impact_block.get("TotalActualSpend", 0.0))
    expected = float(impact_block.get("TotalExpectedSpend", actual - impact))
    # the figures in cents, the impact their difference (finops.anomaly_model): they add up
    expected, actual = float(cents(expected)), float(cents(actual))
    impact = float(cents(actual) - cents(expected))
    pct = impact_block.get("TotalImpactPercentage")
    causes = item.get("RootCauses", [])
    direction = "decrease" if impact < 0 else "increase"
    return Anomaly(
        key=f"{KEY_PREFIX}{item['AnomalyId']}",
        detected_on=start,
        start=start,
        end=end,
        last_seen=last_seen,
        level="aws",
        dimensions=_dimensions(causes, item.get("DimensionValue")),
        team=UNALLOCATED,
        kind="aws",
        direction=direction,
        expected_cost=expected,
        actual_cost=actual,
        impact=impact,
        impact_pct=None if pct is None else float(pct) / 100,
        alert=direction == "increase",
        root_cause=_root_cause(causes),
        source="aws",
        source_id=str(item["AnomalyId"]),
    )


def _day(text: object) -> date | None:
    return date.fromisoformat(str(text)[:10]) if text else None


def _dimensions(causes: list[Mapping[str, Any]], monitored_value: str | None) -> dict[str, str]:
    """The scope: provider, plus each root-cause field on which every root cause agrees."""
    dims = {"provider": "AWS"}
    for field_name, name, _ in ROOT_CAUSE_FIELDS:
        values = {c[field_name] for c in causes if c.get(field_name)}
        if len(values) == 1:
            dims[name] = values.pop()
    if monitored_value and not causes:
        dims["monitored_value"] = monitored_value
    return dims


def _root_cause(causes: list[Mapping[str, Any]]) -> tuple[Contributor, ...]:
    """Per dimension, each value's contribution and its share of all contributions."""
    out = []
    for field_name, _, column in ROOT_CAUSE_FIELDS:
        by_value: dict[str, float] = defaultdict(float)
        for cause in causes:
            if cause.get(field_name):
                by_value[cause[field_name]] += float(cause.get("Impact", {}).get("Contribution", 0.0))
        total = sum(by_value.values())
        for value, part in sorted(by_value.items(), key=lambda kv: -kv[1]):
            out.append(Contributor(column, value, part, part / total if total else 1 / len(by_value)))
    return tuple(out)
