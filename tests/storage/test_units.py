"""Unit metric values: recorded, replaced on a second recording, read by overlap, audited."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from finops.units import UnitValue
from storage.audit import AuditLog
from storage.db import Database
from storage.units import UnitStore

AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_values_are_replaced_not_duplicated_and_read_by_overlap(db: Database) -> None:
    store = UnitStore(db)
    october = UnitValue("payments", "orders", date(2026, 10, 1), date(2026, 10, 31), 31_000.0)
    week = UnitValue("payments", "orders", date(2026, 11, 2), date(2026, 11, 8), 7_250.5)
    users = UnitValue("web", "active_users", date(2026, 10, 1), date(2026, 10, 31), 1_200.0)
    assert store.record([october, week, users], source="csv", by="cli:ana", at=AT) == 3
    corrected = UnitValue("payments", "orders", date(2026, 10, 1), date(2026, 10, 31), 31_500.0)
    assert store.record([corrected, week], source="api", by="api", at=AT) == 1  # the week did not change
    assert store.values(team="payments") == [corrected, week]
    assert store.values(start=date(2026, 11, 1)) == [week]
    assert store.values(end=date(2026, 10, 15), metric="active_users") == [users]
    assert store.values(start=date(2026, 10, 31), end=date(2026, 11, 1)) == [corrected, users]
    audit = AuditLog(db).history("unit_metric", "payments:orders")
    assert [(a.actor, a.detail["source"], a.detail["changed"]) for a in audit] == [("api", "api", 1)]
    assert AuditLog(db).history("unit_metric", "2 metrics")[0].detail == {
        "source": "csv", "values": 3, "changed": 3, "from": "2026-10-01", "to": "2026-11-08"}


def test_an_unknown_source_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="source must be one of csv, api, slack"):
        UnitStore(db).record([], source="email", by="x", at=AT)
