"""Unit metric values: recorded, replaced on a second recording, read by overlap, audited."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest

import storage.units as units_module
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


def test_record_one_returns_the_value_it_replaced(db: Database) -> None:
    store = UnitStore(db)
    week = date(2026, 11, 2), date(2026, 11, 8)
    assert store.record_one(UnitValue("payments", "orders", *week, 7_000.0), source="slack", by="U1", at=AT) is None
    assert store.record_one(UnitValue("payments", "orders", *week, 7_250.0), source="slack", by="U2", at=AT) == 7_000.0
    assert store.record_one(UnitValue("payments", "orders", *week, 7_250.0), source="slack", by="U3", at=AT) == 7_250.0
    assert store.values(team="payments") == [UnitValue("payments", "orders", *week, 7_250.0)]
    audit = AuditLog(db).history("unit_metric", "payments:orders")
    assert [(a.actor, a.detail["changed"]) for a in audit] == [("U1", 1), ("U2", 1), ("U3", 0)]


@pytest.mark.parametrize("first", [None, 100.0], ids=["new period", "period with a value"])
def test_people_recording_one_period_at_once_are_each_told_what_they_really_replaced(db: Database,
                                                                                   first: float | None) -> None:
    # Each recorder must see the value the one before it wrote: the answers form one chain from the
    # first value to the last, none told it replaced a value that another had already replaced.
    store = UnitStore(db)
    week = date(2026, 11, 2), date(2026, 11, 8)
    if first is not None:
        store.record([UnitValue("payments", "orders", *week, first)], source="csv", by="seed", at=AT)
    written = [float(n) for n in range(1, 7)]
    replaced: dict[float, float | None] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(written))

    def recorder(number: float) -> None:
        try:
            start.wait()
            replaced[number] = store.record_one(UnitValue("payments", "orders", *week, number),
                                                source="slack", by=f"U{number:.0f}", at=AT)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=recorder, args=(n,)) for n in written]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    final = store.values(team="payments")[0].value
    chain, at = [], first
    successor = {before: number for number, before in replaced.items()}
    assert len(successor) == len(written), f"two recorders were told they replaced the same value: {replaced}"
    while at in successor:
        at = successor[at]
        chain.append(at)
    assert sorted(chain) == written and chain[-1] == final


def test_files_recording_the_same_new_periods_at_once_are_both_recorded(db: Database) -> None:
    # Two ingests of one corrected file at once: both succeed (the later replaces), none fails on
    # the unique period it did not see the other insert.
    store = UnitStore(db)
    weeks = [(date(2026, 11, 2 + 7 * n), date(2026, 11, 8 + 7 * n)) for n in range(3)]
    errors: list[BaseException] = []
    results: list[int] = []
    start = threading.Barrier(4)

    def ingest(number: float) -> None:
        try:
            start.wait()
            results.append(store.record([UnitValue("payments", "orders", *week, number) for week in weeks],
                                        source="csv", by=f"cli:{number:.0f}", at=AT))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=ingest, args=(float(n),)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [3, 3, 3, 3]
    assert len({v.value for v in store.values(team="payments")}) == 1


def test_files_replacing_the_same_periods_in_opposite_orders_at_once_do_not_deadlock(db: Database,
                                                                                   monkeypatch) -> None:
    # File A lists week 1 then week 2, file B week 2 then week 1. Each writer holds its first row
    # until both have one: in file order, A holds week 1 and B week 2, and each then waits for the
    # other's (PostgreSQL kills one: "deadlock detected"). Written in one order, B waits for A.
    store = UnitStore(db)
    weeks = [(date(2026, 11, 2), date(2026, 11, 8)), (date(2026, 11, 9), date(2026, 11, 15))]
    store.record([UnitValue("payments", "orders", *week, 1.0) for week in weeks], source="csv", by="seed", at=AT)
    both_hold_a_row = threading.Barrier(2)
    written = threading.local()
    real_write = units_module._write

    def write_then_wait(session, value, **kwargs):
        before = real_write(session, value, **kwargs)
        if not getattr(written, "once", False):
            written.once = True
            try:
                both_hold_a_row.wait(timeout=3)  # in one order the other writer is still waiting
            except threading.BrokenBarrierError:
                pass
        return before

    monkeypatch.setattr(units_module, "_write", write_then_wait)
    errors: list[BaseException] = []
    results: list[int] = []

    def ingest(order: list, number: float) -> None:
        try:
            results.append(store.record([UnitValue("payments", "orders", *week, number) for week in order],
                                        source="csv", by=f"cli:{number:.0f}", at=AT))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=ingest, args=(weeks, 2.0)),
               threading.Thread(target=ingest, args=(weeks[::-1], 3.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [2, 2]
    assert len({v.value for v in store.values(team="payments")}) == 1
