"""Provider savings recommendations, normalised: the interface every recommendation source implements.

AWS Cost Optimization Hub (aws_cost_optimization_hub.py), Azure Advisor (azure_advisor.py) and GCP
Recommender (gcp_recommender.py)
each return :class:`Recommendation` objects; they become savings findings whose ``source`` and
``external_id`` identify them, so importing again finds the finding instead of opening another.
The external id must stay the same for the same advice across the provider's refreshes (a
resource and an action, where the provider's own id does not). :func:`owner_teams` gives each recommendation the team
teams.yml assigns to its resource, account and tags, as if it were a cost row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from finops.model import TEAM, canonical_tags
from finops.ownership import allocate_costs
from finops.teams import TeamsConfig

TITLE_CHARS = 300
EXTERNAL_ID_CHARS = 300  # the finding's external_id column


@dataclass(frozen=True)
class Recommendation:
    """One recommendation: where it applies (a scope on cost data), what it would save, and its id.

    ``scope`` uses the finding scope keys (provider, sub_account_id, service, region,
    resource_id, sku_id, tag:KEY); ``estimate_monthly`` is in ``currency`` per month.
    """

    source: str
    external_id: str
    title: str
    provider: str
    account: str
    scope: Mapping[str, Sequence[str]]
    estimate_monthly: float
    currency: str = "USD"
    region: str = ""
    resource_id: str = ""
    service: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""


class RecommendationSource(Protocol):
    """A provider's recommendations: ``source`` names it (``aws-coh``, ``azure-advisor``, ``gcp-recommender``)."""

    source: str

    def recommendations(self) -> list[Recommendation]:
        """Every current cost recommendation (all pages); SourceError when the provider cannot be read."""
        ...


def words(identifier: str) -> str:
    """``MigrateToGraviton`` -> ``Migrate to Graviton``: provider enums, readable in a title."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", identifier)
    return re.sub(r"(?<= )(To|In)\b", lambda m: m.group(1).lower(), spaced)


def natural_key(*parts: str) -> str:
    """``a|b|c``: what a recommendation is about, as its external id (a digest when too long to store)."""
    key = "|".join(parts)
    return key if len(key) <= EXTERNAL_ID_CHARS else f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def title_of(text: str) -> str:
    """A title within the finding's limit."""
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1] + "…"


def owner_teams(recommendations: Sequence[Recommendation], config: TeamsConfig) -> list[str]:
    """The owner team of each recommendation, by teams.yml's rules (``unallocated`` when none matches)."""
    if not recommendations:
        return []
    frame = pd.DataFrame({
        "ProviderName": [r.provider for r in recommendations],
        "BillingAccountId": ["" for _ in recommendations],
        "SubAccountId": [r.account for r in recommendations],
        "ServiceName": [r.service for r in recommendations],
        "RegionId": [r.region for r in recommendations],
        "ResourceId": [r.resource_id for r in recommendations],
        "SkuId": ["" for _ in recommendations],
        "Tags": [canonical_tags(dict(r.tags)) for r in recommendations],
    })
    return list(allocate_costs(frame, config)[TEAM])
