"""Azure Advisor import against a local HTTP server speaking the Advisor REST API: bearer token, the
cost filter, nextLink pages, the mapping to a finding's scope and estimate, errors, and imports
deduplicated across runs."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from azure.core.credentials import AccessToken

from bot.config import Settings
from bot.context import build_context
from bot.delivery import TerminalTransport
from bot.services.findings import import_recommendations
from finops.sources.azure_advisor import API_VERSION, AzureAdvisor
from finops.sources.connector import SourceError
from finops.teams import parse_teams
from storage.db import Database
from storage.findings import FindingStore
from tests.finops.sources.json_api_server import JsonApiServer

SUB = "5f1c0de0-0000-4000-8000-000000000001"
TOKEN = "test-token"
VM = f"/subscriptions/{SUB}/resourceGroups/Web-RG/providers/Microsoft.Compute/virtualMachines/vm-web-01"
TEAMS = f"""\
default_channel: "#finops"
teams:
  - name: web
    channel: "#team-web"
    owners: [U_WEB_LEAD]
    match:
      - sub_account_id: "{SUB}"
"""


def advisor_item(name: str, *, category: str = "Cost", resource: str = VM, saving: str | None = "61.32",
                 annual: str | None = None, solution: str = "Right-size or shutdown underutilized virtual machines",
                 value: str = "vm-web-01") -> dict[str, Any]:
    extended = {"savingsCurrency": "USD"}
    if saving is not None:
        extended["savingsAmount"] = saving
    if annual is not None:
        extended["annualSavingsAmount"] = annual
    return {"id": f"{resource}/providers/Microsoft.Advisor/recommendations/{name}", "name": name,
            "type": "Microsoft.Advisor/recommendations",
            "properties": {"category": category, "impact": "High", "impactedField": "Microsoft.Compute/virtualMachines",
                           "impactedValue": value, "recommendationTypeId": "e10b1381-5f0a-47ff-8c7b-37bd13d7c974",
                           "shortDescription": {"problem": "Underutilized VM", "solution": solution},
                           "extendedProperties": extended, "resourceMetadata": {"resourceId": resource}}}


RESIZE = advisor_item("rec-vm-1")
RESERVE = advisor_item("rec-ri-1", resource=f"/subscriptions/{SUB}", saving=None, annual="2400",
                       solution="Buy reserved virtual machine instances to save money over pay-as-you-go costs",
                       value="Standard_D4s_v5")
SECURITY = advisor_item("rec-sec-1", category="Security")
NO_SAVING = advisor_item("rec-zero", saving="0")


class StaticToken:
    """A TokenCredential with a fixed token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


class AdvisorServer(JsonApiServer):
    """``GET /subscriptions/{id}/providers/Microsoft.Advisor/recommendations`` as Azure answers it:
    the bearer token and api-version checked, ``$filter=Category eq 'Cost'`` applied, pages of
    ``page_size`` linked by an absolute ``nextLink`` with a ``$skiptoken``."""

    def __init__(self, items: Sequence[dict], *, page_size: int = 2) -> None:
        super().__init__(items, page_size=page_size)

    def answer_get(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}
        if self.failures:
            status, code = self.failures.pop(0)
            return status, {"error": {"code": code, "message": code}}
        if query.get("api-version") != [API_VERSION]:
            return 400, {"error": {"code": "InvalidApiVersionParameter", "message": "bad api-version"}}
        if path != f"/subscriptions/{SUB}/providers/Microsoft.Advisor/recommendations":
            return 404, {"error": {"code": "NotFound", "message": path}}
        wanted = [i for i in self.items if query.get("$filter") != ["Category eq 'Cost'"]
                  or i["properties"]["category"] == "Cost"]
        start = int(query.get("$skiptoken", ["0"])[0])
        body: dict[str, Any] = {"value": wanted[start:start + self.page_size]}
        if start + self.page_size < len(wanted):
            next_query = {"api-version": API_VERSION, "$filter": query["$filter"][0],
                          "$skiptoken": str(start + self.page_size)}
            body["nextLink"] = f"{self.url}{path}?{urlencode(next_query)}"
        return 200, body


def advisor(server: AdvisorServer, token: str = TOKEN) -> AzureAdvisor:
    return AzureAdvisor(SUB, credential=StaticToken(token), base_url=server.url, allow_http=True, retry_total=0)


def test_cost_recommendations_on_every_page_become_findings_scopes():
    with AdvisorServer([RESIZE, SECURITY, NO_SAVING, RESERVE]) as server:
        resize, reserve = advisor(server).recommendations()
        assert len(server.requests) == 2  # three cost items, two a page
        assert server.requests[0]["query"]["$filter"] == ["Category eq 'Cost'"]
    assert (resize.source, resize.external_id, resize.estimate_monthly, resize.currency) == (
        "azure-advisor", "rec-vm-1", 61.32, "USD")
    assert resize.title == "Right-size or shutdown underutilized virtual machines: vm-web-01"
    assert resize.scope == {"sub_account_id": [SUB], "resource_id": [VM, VM.lower()]}
    assert resize.notes.startswith("Azure Advisor (High impact, Microsoft.Compute/virtualMachines, type e10b1381")
    assert reserve.scope == {"sub_account_id": [SUB]} and reserve.estimate_monthly == 200.0  # 2400 a year


@pytest.mark.parametrize(("token", "failure", "reason"), [
    ("wrong", None, "Azure rejected the credentials (401 InvalidAuthenticationToken)"),
    (TOKEN, (403, "AuthorizationFailed"), "Azure denied access to Advisor (403 AuthorizationFailed): the identity "
                                          "needs Reader on the subscription"),
    (TOKEN, (503, "ServiceUnavailable"), "Azure Advisor failed on Azure's side (503 ServiceUnavailable); the next "
                                         "run retries"),
])
def test_azure_errors_are_one_line(token, failure, reason):
    with AdvisorServer([RESIZE]) as server:
        if failure:
            server.failures.append(failure)
        with pytest.raises(SourceError) as error:
            advisor(server, token).recommendations()
    assert str(error.value) == f"azure-advisor: {reason}"


def test_importing_twice_opens_each_recommendation_once_for_the_subscriptions_team(sqlite_db: Database):
    ctx = build_context(Settings(database_url=sqlite_db.url), teams=parse_teams(TEAMS), upgrade=False,
                        transport=TerminalTransport(stream=io.StringIO()),
                        now=lambda: datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    with AdvisorServer([RESIZE]) as server:
        first = import_recommendations(ctx, advisor(server), by="cli:ops")
    with AdvisorServer([RESIZE, RESERVE]) as server:
        again = import_recommendations(ctx, advisor(server), by="cli:ops")
    assert [(f.external_id, f.team, f.assignee, str(f.estimate_monthly)) for f in first.created] == [
        ("rec-vm-1", "web", "U_WEB_LEAD", "61.32")]
    assert [f.external_id for f in again.created] == ["rec-ri-1"] and [f.id for f in again.existing] == [1]
    assert [f.source for f in FindingStore(sqlite_db).list_findings()] == ["azure-advisor"] * 2
