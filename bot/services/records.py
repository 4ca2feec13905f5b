"""What the bot itself recorded, as the digest, App Home and the scorecard read it: open anomalies,
each alert's timeline, and the savings findings."""

from __future__ import annotations

from finops.digest import AnomalyLine
from finops.maturity import AlertTiming, FindingSummary
from storage.anomalies import AnomalyStore
from storage.db import Database
from storage.findings import FindingStore


def load_open_anomalies(db: Database) -> list[AnomalyLine]:
    """Open alerting anomalies, as digest lines."""
    return [AnomalyLine(**line) for line in AnomalyStore(db).digest_lines()]


def load_alert_timings(db: Database) -> list[AlertTiming]:
    """Each anomaly alert's cost day -> detected -> posted -> first response."""
    return [AlertTiming(**timing) for timing in AnomalyStore(db).alert_timings()]


def load_findings(db: Database) -> list[FindingSummary]:
    """Every savings finding, as the scorecard and the digest read it."""
    return [FindingSummary(f.id, f.title, f.team, str(f.state), float(f.estimate_monthly), f.identified_on,
                           f.implemented_on, f.verified_on,
                           None if f.realized_monthly is None else float(f.realized_monthly), f.regressed)
            for f in FindingStore(db).list_findings()]
