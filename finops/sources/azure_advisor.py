"""Azure Advisor: its cost recommendations as savings findings (read-only), over the REST API.

``GET /subscriptions/{id}/providers/Microsoft.Advisor/recommendations?$filter=Category eq 'Cost'``
(all pages, following ``nextLink``) through azure-core's pipeline with a bearer token from the
standard credential chain (``DefaultAzureCredential``; the Reader role suffices); the Advisor SDK
(azure-mgmt-advisor) is not a dependency. Each recommendation becomes a
:class:`~finops.sources.recommendations.Recommendation` with source ``azure-advisor``, the
recommendation's name (a GUID) as external id, and ``extendedProperties.savingsAmount`` (monthly,
in ``savingsCurrency``) as the estimate; one with no saving is left out. Its scope: the
subscription, and the impacted resource when Advisor names one (by its ARM id as given and
lower-cased, since cost exports often lower-case resource ids); reservation and savings plan
recommendations name only the subscription.
"""

from __future__ import annotations

from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from finops.money import cents
from finops.sources.connector import SourceError
from finops.sources.recommendations import Recommendation, title_of

SOURCE = "azure-advisor"
API_VERSION = "2023-01-01"
MANAGEMENT = "https://management.azure.com"
COST_FILTER = "Category eq 'Cost'"
MAX_PAGES = 1000  # a guard against a nextLink that never ends


def _saving(properties: dict[str, Any]) -> tuple[float, str]:
    extended = properties.get("extendedProperties") or {}
    currency = extended.get("savingsCurrency") or "USD"
    try:
        if extended.get("savingsAmount") not in (None, ""):
            return float(extended["savingsAmount"]), currency
        if extended.get("annualSavingsAmount") not in (None, ""):
            return float(extended["annualSavingsAmount"]) / 12, currency
    except (TypeError, ValueError):
        pass
    return 0.0, currency


def _subscription(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered[:-1] else ""


def recommendation_from_item(item: dict[str, Any], subscription_id: str) -> Recommendation | None:
    """One Advisor recommendation as a Recommendation (None when it is not a cost saving)."""
    properties = item.get("properties") or {}
    if str(properties.get("category", "")).lower() != "cost":
        return None
    saving, currency = _saving(properties)
    if cents(saving) <= 0:  # nothing to save, to the cent
        return None
    resource = (properties.get("resourceMetadata") or {}).get("resourceId") or ""
    account = _subscription(resource) or subscription_id
    scope: dict[str, list[str]] = {"sub_account_id": [account]}
    names_a_resource = resource.strip("/").count("/") > 1  # more than /subscriptions/<id>
    if names_a_resource:
        scope["resource_id"] = list(dict.fromkeys((resource, resource.lower())))
    short = properties.get("shortDescription") or {}
    what = short.get("solution") or short.get("problem") or "Azure Advisor cost recommendation"
    target = properties.get("impactedValue") or ""
    kind = properties.get("impactedField") or ""
    notes = (f"Azure Advisor ({properties.get('impact', '?')} impact, {kind or 'subscription'}, type "
             f"{properties.get('recommendationTypeId', '?')}): {short.get('problem', '')}".strip())
    return Recommendation(
        source=SOURCE, external_id=str(item.get("name") or item.get("id")),
        title=title_of(f"{what}: {target}" if target else what), provider="Microsoft", account=account,
        scope=scope, estimate_monthly=saving, currency=currency, resource_id=resource if names_a_resource else "",
        notes=notes)


def _reason(error: HttpResponseError) -> str:
    status = error.status_code
    code = getattr(error.error, "code", None) or error.reason or ""
    detail = f"{status} {code}".strip()
    if isinstance(error, ClientAuthenticationError) or status == 401:
        return f"Azure rejected the credentials ({detail})"
    if status == 403:
        return f"Azure denied access to Advisor ({detail}): the identity needs Reader on the subscription"
    if status == 429:
        return f"Azure throttled Advisor ({detail}); the next run retries"
    if status is not None and status >= 500:
        return f"Azure Advisor failed on Azure's side ({detail}); the next run retries"
    return f"Azure Advisor refused the request ({detail})"


class AzureAdvisor:
    """Cost recommendations of one subscription from Azure Advisor.

    ``credential``: an azure-core TokenCredential (default ``DefaultAzureCredential``).
    ``base_url`` and ``allow_http`` (the bearer token over plain HTTP) are for a local test server.
    """

    source = SOURCE

    def __init__(self, subscription_id: str, *, credential: TokenCredential | None = None,
                 base_url: str = MANAGEMENT, allow_http: bool = False, retry_total: int = 3) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.subscription_id = subscription_id
        self.allow_http = allow_http
        self.client: PipelineClient = PipelineClient(base_url.rstrip("/"), policies=[
            HeadersPolicy({"Accept": "application/json"}),
            RetryPolicy(retry_total=retry_total),
            BearerTokenCredentialPolicy(credential, f"{MANAGEMENT}/.default"),
        ])

    def _get(self, request: HttpRequest) -> dict[str, Any]:
        try:
            response = self.client.send_request(request, enforce_https=not self.allow_http)
            response.raise_for_status()
        except HttpResponseError as error:
            raise SourceError(SOURCE, _reason(error)) from error
        except AzureError as error:
            raise SourceError(SOURCE, f"the request to Azure failed ({type(error).__name__})") from error
        return response.json()

    def recommendations(self) -> list[Recommendation]:
        """Every cost recommendation with a saving, all pages; SourceError when Azure cannot be read."""
        path = f"/subscriptions/{self.subscription_id}/providers/Microsoft.Advisor/recommendations"
        request = HttpRequest("GET", self.client.format_url(path),
                              params={"api-version": API_VERSION, "$filter": COST_FILTER})
        found = []
        for _ in range(MAX_PAGES):
            page = self._get(request)
            found += [r for r in (recommendation_from_item(item, self.subscription_id)
                                  for item in page.get("value", [])) if r is not None]
            if not page.get("nextLink"):
                return found
            request = HttpRequest("GET", page["nextLink"])
        raise SourceError(SOURCE, f"more than {MAX_PAGES} pages of recommendations: stopped")
