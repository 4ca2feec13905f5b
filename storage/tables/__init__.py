"""Every table of costbot, registered on ``SQLModel.metadata`` by importing this package.

One module per area; a new table also needs a migration in ``storage/migrations/versions``
(``tests/storage/test_migrations.py`` fails when a table and the migrations disagree).
"""

from storage.tables import allocation, anomalies, digests, findings, variance  # noqa: F401  (their tables register on import)
from storage.tables.core import AuditEntry, OutboxMessage, SlackChannel
from storage.tables.costs import CostDaily, CostSeries, IngestRun, SourceFreshness

__all__ = [
    "AuditEntry",
    "CostDaily",
    "CostSeries",
    "IngestRun",
    "OutboxMessage",
    "SlackChannel",
    "SourceFreshness",
]
