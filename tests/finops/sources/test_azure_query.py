"""Azure Cost Management connector against a local server that speaks the Query REST API."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.costmanagement import CostManagementClient

from finops.money import cents
from finops.sources.azure_query import AzureCostManagement
from finops.sources.connector import SourceError

from .azure_fake_server import AzureCostServer, UsageItem

SUB_A, SUB_B = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
SCOPE = "providers/Microsoft.Billing/billingAccounts/12345678"
VM_EASTUS, VM_WESTEU = "meter-vm-d2sv5-eastus", "meter-vm-d2sv5-westeurope"
BANDWIDTH, SQL = "meter-bandwidth-zone1", "meter-sql-gp-eastus"


class StaticToken:
    """A credential with a fixed bearer token, as azure-core's TokenCredential protocol asks."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def item(day: int, sub: str, service: str, meter: str, location: str, actual: float | None,
         amortized: float | None, *, quantity: float = 0.0, team: str | None = None) -> UsageItem:
    return UsageItem(day=date(2026, 10, day), subscription_id=sub,
                     subscription_name={SUB_A: "payments-prod", SUB_B: "search-prod"}[sub],
                     service=service, meter_id=meter, location=location, actual=actual, amortized=amortized,
                     quantity=quantity, tags={"team": team} if team else {})


ITEMS = [
    item(14, SUB_A, "Virtual Machines", VM_EASTUS, "eastus", 12.00, 12.00, quantity=24, team="payments"),
    item(14, SUB_A, "Virtual Machines", VM_EASTUS, "eastus", 3.00, 3.00, quantity=6, team="payments"),
    item(14, SUB_A, "Virtual Machines", VM_EASTUS, "eastus", 2.00, 2.00, quantity=4),
    item(14, SUB_A, "Bandwidth", BANDWIDTH, "eastus", 0.45, 0.45, quantity=5.0, team="payments"),
    # A reservation bought on the 15th: all of it billed that day, a 30th of it amortized.
    item(15, SUB_A, "Virtual Machines", VM_WESTEU, "westeurope", 300.00, None, team="payments"),
    item(15, SUB_A, "Virtual Machines", VM_WESTEU, "westeurope", 0.00, 10.00, quantity=24, team="payments"),
    item(15, SUB_B, "SQL Database", SQL, "eastus", 7.77, 7.77, quantity=1, team="search"),
    item(15, SUB_B, "Bandwidth", BANDWIDTH, "westeurope", 0.10, 0.10, quantity=1.0, team="search"),
    item(16, SUB_B, "SQL Database", SQL, "eastus", 8.00, 8.00, quantity=1, team="search"),
    # Outside the window.
    item(13, SUB_A, "Virtual Machines", VM_EASTUS, "eastus", 50.00, 50.00),
    item(17, SUB_B, "SQL Database", SQL, "eastus", 60.00, 60.00),
]
WINDOW = (date(2026, 10, 14), date(2026, 10, 16))


def connector(server: AzureCostServer, *, token: str = "test-token", **options) -> AzureCostManagement:
    client = CostManagementClient(StaticToken(token), base_url=server.url, retry_total=0)
    return AzureCostManagement(SCOPE, client=client, allow_http=True, **options)


@pytest.fixture
def server():
    with AzureCostServer(SCOPE, ITEMS) as running:
        yield running


def test_billed_and_effective_totals_equal_what_azure_served(server):
    frame = connector(server).fetch_daily(*WINDOW)

    assert cents(frame["BilledCost"].sum()) == Decimal("333.32")
    assert cents(frame["EffectiveCost"].sum()) == Decimal("43.32")
    by_sub = frame.groupby("SubAccountId")[["BilledCost", "EffectiveCost"]].sum()
    assert [cents(v) for v in by_sub.loc[SUB_A]] == [Decimal("317.45"), Decimal("27.45")]
    assert [cents(v) for v in by_sub.loc[SUB_B]] == [Decimal("15.87"), Decimal("15.87")]
    assert set(frame["ProviderName"]) == {"Microsoft"}
    assert set(frame["BillingAccountId"]) == {"12345678"}
    assert set(frame["BillingCurrency"]) == {"USD"}
    assert set(frame["x_Team"]) == {""}


def test_rows_carry_subscription_meter_team_tag_and_the_meters_service_and_region(server):
    frame = connector(server).fetch_daily(*WINDOW)
    rows = {(r.ChargePeriodStart.day, r.SkuId, r.Tags): r for r in frame.itertuples()}

    vm = rows[(14, VM_EASTUS, '{"team":"payments"}')]
    assert (vm.SubAccountId, vm.SubAccountName, vm.ServiceName, vm.RegionId) == (
        SUB_A, "payments-prod", "Virtual Machines", "eastus")
    assert (vm.BilledCost, vm.EffectiveCost, vm.ConsumedQuantity) == (15.0, 15.0, 30.0)
    untagged = rows[(14, VM_EASTUS, "")]
    assert (untagged.BilledCost, untagged.ConsumedQuantity) == (2.0, 4.0)
    purchase = rows[(15, VM_WESTEU, '{"team":"payments"}')]
    assert (purchase.BilledCost, purchase.EffectiveCost, purchase.RegionId) == (300.0, 10.0, "westeurope")
    # The bandwidth meter served two regions: the service is known, the region is not guessed.
    bandwidth = rows[(15, BANDWIDTH, '{"team":"search"}')]
    assert (bandwidth.ServiceName, bandwidth.RegionId, bandwidth.SubAccountName) == ("Bandwidth", "", "search-prod")


def test_query_plan_respects_two_groupings_and_filters_only_on_dimensions(server):
    fetched = connector(server)
    fetched.fetch_daily(*WINDOW)
    bodies = [r["body"] for r in server.requests]

    # 2 discovery + 2 cost types x 2 subscriptions + 2 meter lookups.
    assert fetched.queries_made == len(bodies) == 8
    assert all(len(b["dataset"]["grouping"]) <= 2 for b in bodies)
    assert {r["query"]["api-version"] for r in server.requests} == {"2025-03-01"}
    detail = bodies[2]
    assert detail["type"] == "ActualCost" and detail["timeframe"] == "Custom"
    assert detail["timePeriod"] == {"from": "2026-10-14T00:00:00Z", "to": "2026-10-16T23:59:59Z"}
    assert detail["dataset"]["granularity"] == "Daily"
    assert detail["dataset"]["grouping"] == [{"type": "Dimension", "name": "MeterId"}, {"type": "TagKey", "name": "team"}]
    assert detail["dataset"]["filter"] == {"dimensions": {"name": "SubscriptionId", "operator": "In", "values": [SUB_A]}}
    assert detail["dataset"]["aggregation"] == {"totalCost": {"name": "PreTaxCost", "function": "Sum"},
                                                "totalQuantity": {"name": "UsageQuantity", "function": "Sum"}}
    assert {b["type"] for b in bodies[4:6]} == {"AmortizedCost"}


def test_next_link_pages_are_followed_with_the_same_body(server):
    server.page_size = 2
    paged = connector(server).fetch_daily(*WINDOW)

    follow_ups = [r for r in server.requests if "$skiptoken" in r["query"]]
    assert len(follow_ups) >= 3
    for follow_up in follow_ups:
        first = next(r for r in server.requests if "$skiptoken" not in r["query"] and r["body"] == follow_up["body"])
        assert first["path"] == follow_up["path"]
    assert cents(paged["BilledCost"].sum()) == Decimal("333.32")
    assert cents(paged["EffectiveCost"].sum()) == Decimal("43.32")


def test_mca_scopes_aggregate_the_cost_column(server):
    frame = connector(server, cost_column="Cost").fetch_daily(*WINDOW)
    assert {b["dataset"]["aggregation"]["totalCost"]["name"] for b in (r["body"] for r in server.requests)} == {"Cost"}
    assert cents(frame["BilledCost"].sum()) == Decimal("333.32")


def test_an_expired_token_is_a_source_error(server):
    with pytest.raises(SourceError) as raised:
        connector(server, token="expired").fetch_daily(*WINDOW)
    assert str(raised.value) == f"azure:{SCOPE}: Azure rejected the credentials (401 ExpiredAuthenticationToken)"


def test_throttling_waits_out_retry_after_then_continues(server):
    server.fail_next(429, "TooManyRequests", headers={"Retry-After": "0.2"}, times=2)
    fetched = connector(server)
    started = time.monotonic()
    frame = fetched.fetch_daily(*WINDOW)

    assert time.monotonic() - started >= 0.4
    assert fetched.queries_made == 10
    assert server.requests[0]["body"] == server.requests[1]["body"] == server.requests[2]["body"]
    assert cents(frame["BilledCost"].sum()) == Decimal("333.32")


def test_throttling_longer_than_the_connector_waits_is_a_source_error(server):
    server.fail_next(429, "TooManyRequests",
                     headers={"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "120"})
    with pytest.raises(SourceError) as raised:
        connector(server, max_throttle_wait=30).fetch_daily(*WINDOW)
    assert str(raised.value) == (f"azure:{SCOPE}: Azure throttled the cost query (429 TooManyRequests; "
                                 "Azure asks to wait 120s); the next run retries")
    assert len(server.requests) == 1


def test_throttling_that_does_not_stop_gives_up_after_the_retries(server):
    server.fail_next(429, "TooManyRequests", headers={"Retry-After": "0"}, times=10)
    with pytest.raises(SourceError, match="Azure throttled the cost query"):
        connector(server, throttle_retries=2).fetch_daily(*WINDOW)
    assert len(server.requests) == 3


def test_a_server_error_is_a_source_error(server):
    server.fail_next(503, "ServiceUnavailable")
    with pytest.raises(SourceError) as raised:
        connector(server).fetch_daily(*WINDOW)
    assert str(raised.value) == (f"azure:{SCOPE}: Azure Cost Management failed on Azure's side "
                                 "(503 ServiceUnavailable); the next run retries")


def test_plain_http_is_refused_unless_allowed(server):
    client = CostManagementClient(StaticToken("test-token"), base_url=server.url, retry_total=0)
    with pytest.raises(SourceError) as raised:
        AzureCostManagement(SCOPE, client=client).fetch_daily(*WINDOW)
    assert str(raised.value) == (f"azure:{SCOPE}: the request to Azure failed (ServiceRequestError: Bearer token "
                                 "authentication is not permitted for non-TLS protected (non-https) URLs.)")
    assert server.requests == []
