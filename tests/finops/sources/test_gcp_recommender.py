"""GCP Recommender import against a local HTTP server speaking the Recommender REST API (v1), through
google-cloud-recommender's REST transport: the parents asked per location kind, the ACTIVE filter,
pageToken pages, the exact monthly saving of a cost projection, the scope, errors, and imports
deduplicated across runs."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials

from bot.config import Settings
from bot.context import build_context
from bot.delivery import TerminalTransport
from bot.services.findings import import_recommendations
from finops.sources.connector import SourceError
from finops.sources.gcp_recommender import GcpRecommender, parents
from finops.teams import parse_teams
from storage.db import Database
from storage.findings import FindingStore
from tests.finops.sources.json_api_server import JsonApiServer

PROJECT = "shop-prod-4711"
NUMBER = "123456789012"  # the API names recommendations by project number
MACHINE_TYPE = "google.compute.instance.MachineTypeRecommender"
IDLE_DISK = "google.compute.disk.IdleResourceRecommender"
COMMITMENT = "google.compute.commitment.UsageCommitmentRecommender"
VM = f"//compute.googleapis.com/projects/{PROJECT}/zones/us-central1-a/instances/web-1"
DISK = f"//compute.googleapis.com/projects/{PROJECT}/zones/us-central1-a/disks/old-data"
TEAMS = f"""\
default_channel: "#finops"
teams:
  - name: shop
    channel: "#team-shop"
    owners: [U_SHOP_LEAD]
    match:
      - provider: "Google Cloud"
        sub_account_id: "{PROJECT}"
"""
ENUMS = {"category": ["CATEGORY_UNSPECIFIED", "COST", "SECURITY", "PERFORMANCE", "MANAGEABILITY",
                      "SUSTAINABILITY", "RELIABILITY"],
         "state": ["STATE_UNSPECIFIED", "ACTIVE", "CLAIMED", "SUCCEEDED", "FAILED", "DISMISSED"],
         "priority": ["PRIORITY_UNSPECIFIED", "P4", "P3", "P2", "P1"]}


def money(amount: str, currency: str = "USD") -> dict[str, Any]:
    """google.type.Money as JSON: ``-73.5`` -> units "-73", nanos -500000000 (same sign)."""
    negative = amount.startswith("-")
    whole, _, fraction = amount.lstrip("-").partition(".")
    nanos = int((fraction + "000000000")[:9])
    sign = -1 if negative else 1
    return {"currencyCode": currency, "units": str(sign * int(whole)), "nanos": sign * nanos}


def recommendation(rid: str, recommender: str, location: str, *, cost: str, currency: str = "USD",
                   duration: str = "2592000s", category: str = "COST", state: str = "ACTIVE",
                   subtype: str = "CHANGE_MACHINE_TYPE", resource: str | None = VM, action: str = "replace",
                   description: str = "Save cost by changing machine type from e2-standard-8 to e2-standard-4.",
                   local: dict[str, Any] | None = None) -> dict[str, Any]:
    projection: dict[str, Any] = {"cost": money(cost, currency), "duration": duration}
    if local is not None:
        projection["costInLocalCurrency"] = local
    operation: dict[str, Any] = {"action": action, "resourceType": "compute.googleapis.com/Instance",
                                 "resource": resource or f"//compute.googleapis.com/projects/{PROJECT}/regions/"
                                                         f"{location}/commitments/new-commitment-{rid}",
                                 "path": "/machineType", "value": "e2-standard-4"}
    return {"name": f"projects/{NUMBER}/locations/{location}/recommenders/{recommender}/recommendations/{rid}",
            "description": description, "recommenderSubtype": subtype,
            "lastRefreshTime": "2026-11-27T06:00:00Z",
            "primaryImpact": {"category": category, "costProjection": projection},
            "priority": "P2", "content": {"operationGroups": [{"operations": [operation]}]},
            "stateInfo": {"state": state}, "etag": f'"{rid}"'}


RESIZE = recommendation("r-vm-1", MACHINE_TYPE, "us-central1-a", cost="-73.5")
IDLE = recommendation("r-disk-1", IDLE_DISK, "us-central1-a", cost="-12.34", subtype="SNAPSHOT_AND_DELETE_DISK",
                      resource=DISK, action="remove", description="Save cost by snapshotting and then deleting "
                                                                   "idle persistent disk 'old-data'.")
COMMIT = recommendation("r-cud-1", COMMITMENT, "us-central1", cost="-1200", duration="31536000s",
                        subtype="COMMITMENT_PURCHASE", resource=None, action="add",
                        description="Purchase a 1 year commitment for 8 vCPUs and 32 GB of memory.")
UPSIZE = recommendation("r-vm-perf", MACHINE_TYPE, "us-central1-a", cost="41.02", category="PERFORMANCE",
                        resource=VM.replace("web-1", "db-1"))
# the primary category decides, even when some cost is projected to fall
RELIABILITY = recommendation("r-vm-rel", MACHINE_TYPE, "us-central1-a", cost="-9", category="RELIABILITY",
                             resource=VM.replace("web-1", "api-1"))
DISMISSED = recommendation("r-vm-old", MACHINE_TYPE, "us-central1-a", cost="-50", state="DISMISSED",
                           resource=VM.replace("web-1", "batch-1"))
IN_EUR = recommendation("r-disk-eur", IDLE_DISK, "us-central1-a", cost="-20.5", currency="EUR",
                        subtype="SNAPSHOT_AND_DELETE_DISK", resource=DISK.replace("old-data", "scratch"),
                        action="remove", description="Save cost by deleting idle persistent disk 'scratch'.")


class RecommenderServer(JsonApiServer):
    """``GET /v1/projects/{p}/locations/{l}/recommenders/{r}/recommendations`` as Google answers it:
    ``filter=stateInfo.state = ACTIVE`` applied, ``page_size`` items a page linked by
    ``nextPageToken``/``pageToken``, enums as numbers when ``$alt`` asks ``enum-encoding=int``,
    errors as ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, items: Sequence[dict], *, page_size: int = 1) -> None:
        super().__init__(items, page_size=page_size)

    def answer_get(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict]:
        if self.failures:
            status, code = self.failures.pop(0)
            return status, {"error": {"code": status, "message": f"{code}: injected", "status": code}}
        prefix, _, parent = path.partition("/v1/")
        parts = parent.split("/")
        if prefix or len(parts) != 7 or parts[0::2] != ["projects", "locations", "recommenders", "recommendations"]:
            return 404, {"error": {"code": 404, "message": f"no such path {path}", "status": "NOT_FOUND"}}
        project, location, recommender = parts[1], parts[3], parts[5]
        if project not in (PROJECT, NUMBER):
            return 403, {"error": {"code": 403, "message": f"Permission denied on project {project}",
                                   "status": "PERMISSION_DENIED"}}
        wanted = [i for i in self.items
                  if i["name"].split("/")[3] == location and i["name"].split("/")[5] == recommender
                  and (query.get("filter") != ["stateInfo.state = ACTIVE"] or i["stateInfo"]["state"] == "ACTIVE")]
        start = int(query.get("pageToken", ["0"])[0])
        size = min(self.page_size, int(query.get("pageSize", [self.page_size])[0]))
        page = [json.loads(json.dumps(i)) for i in wanted[start:start + size]]
        if "enum-encoding=int" in query.get("$alt", [""])[0]:
            for item in page:
                for holder, name in ((item["primaryImpact"], "category"), (item["stateInfo"], "state"),
                                     (item, "priority")):
                    holder[name] = ENUMS[name].index(holder[name])
        body: dict[str, Any] = {"recommendations": page}
        if start + size < len(wanted):
            body["nextPageToken"] = str(start + size)
        return 200, body


class ExpiredCredentials(Credentials):
    """Credentials whose refresh fails as an expired user login does."""

    def refresh(self, request: object) -> None:
        raise auth_exceptions.RefreshError("invalid_grant: Token has been expired or revoked.")


def source(server: RecommenderServer, *, credentials: Credentials | None = None,
           locations: Sequence[str] = ("us-central1-a",), **options: Any) -> GcpRecommender:
    return GcpRecommender(PROJECT, locations=locations, api_endpoint=server.url,
                          credentials=credentials or AnonymousCredentials(), **options)


def test_each_recommender_is_asked_in_the_locations_of_its_kind():
    asked = parents(PROJECT, ["us-central1-a", "us-central1-b", "europe-west4", "global"],
                    [MACHINE_TYPE, COMMITMENT, "google.compute.address.IdleResourceRecommender"])
    assert [p.removeprefix(f"projects/{PROJECT}/locations/") for p in asked] == [
        f"us-central1-a/recommenders/{MACHINE_TYPE}", f"us-central1-b/recommenders/{MACHINE_TYPE}",
        f"us-central1/recommenders/{COMMITMENT}", f"europe-west4/recommenders/{COMMITMENT}",
        "us-central1/recommenders/google.compute.address.IdleResourceRecommender",
        "europe-west4/recommenders/google.compute.address.IdleResourceRecommender",
        "global/recommenders/google.compute.address.IdleResourceRecommender"]
    with pytest.raises(ValueError, match="'us-central' is not a GCP location"):
        parents(PROJECT, ["us-central"], [MACHINE_TYPE])
    with pytest.raises(ValueError, match="'google.iam.policy.Recommender' is not a cost recommender"):
        parents(PROJECT, ["global"], ["google.iam.policy.Recommender"])


def test_active_cost_recommendations_on_every_page_with_exact_monthly_savings():
    with RecommenderServer([RESIZE, UPSIZE, RELIABILITY, DISMISSED, IDLE, IN_EUR, COMMIT]) as server:
        found = source(server).recommendations()
        listed = [r for r in server.requests if r["path"].endswith(f"{MACHINE_TYPE}/recommendations")]
    # machine type: RESIZE, UPSIZE and RELIABILITY (DISMISSED filtered out by the server), one a page
    assert [r["query"].get("pageToken") for r in listed] == [None, ["1"], ["2"]]
    assert listed[0]["query"]["filter"] == ["stateInfo.state = ACTIVE"]
    assert listed[0]["path"] == f"/v1/projects/{PROJECT}/locations/us-central1-a/recommenders/{MACHINE_TYPE}/" \
                                "recommendations"
    by_id = {r.external_id: r for r in found}
    assert list(by_id) == [f"{PROJECT}|{VM}|CHANGE_MACHINE_TYPE", f"{PROJECT}|{DISK}|SNAPSHOT_AND_DELETE_DISK",
                           f"{PROJECT}|{DISK.replace('old-data', 'scratch')}|SNAPSHOT_AND_DELETE_DISK",
                           f"{PROJECT}|{COMMITMENT}|us-central1|COMMITMENT_PURCHASE"]
    resize, idle, eur, commit = found
    # -73.50 over 30 days: 73.5 × 30.4375 / 30 = 74.571875 -> 74.57 a month
    assert (resize.estimate_monthly, resize.currency) == (74.57, "USD")
    # 12.34 × 30.4375 / 30 = 12.51989... -> 12.52
    assert idle.estimate_monthly == 12.52
    # 1200 over 365 days: 1200 × 30.4375 / 365 = 100.0684... -> 100.07
    assert commit.estimate_monthly == 100.07
    assert (eur.estimate_monthly, eur.currency) == (20.80, "EUR")  # 20.5 × 30.4375 / 30 = 20.7989...
    assert resize.scope == {"provider": ["Google Cloud"], "sub_account_id": [PROJECT], "resource_id": [VM, "web-1"]}
    assert (resize.provider, resize.account, resize.service, resize.region, resize.resource_id) == (
        "Google Cloud", PROJECT, "Compute Engine", "us-central1", VM)
    assert resize.title == "Save cost by changing machine type from e2-standard-8 to e2-standard-4: web-1"
    assert resize.notes.startswith(f"GCP Recommender ({MACHINE_TYPE}, CHANGE_MACHINE_TYPE, priority P2): ")
    # a commitment purchase names no existing resource: the project, service and region
    assert commit.scope == {"provider": ["Google Cloud"], "sub_account_id": [PROJECT],
                            "service": ["Compute Engine"], "region": ["us-central1"]}


def test_the_usd_figure_of_a_projection_is_used_when_the_cost_is_in_another_currency():
    both = recommendation("r-vm-2", MACHINE_TYPE, "us-central1-a", cost="-100", currency="EUR",
                          local=money("-108.25", "USD"))
    with RecommenderServer([both]) as server:
        (found,) = source(server, recommenders=[MACHINE_TYPE]).recommendations()
    assert (found.estimate_monthly, found.currency) == (109.83, "USD")  # 108.25 × 30.4375 / 30 = 109.8289...


@pytest.mark.parametrize(("credentials", "failure", "reason"), [
    (None, (403, "PERMISSION_DENIED"),
     "Google denied access to the Recommender API (403 PERMISSION_DENIED: injected): the identity needs "
     "roles/recommender.viewer (or the narrower roles/recommender.computeViewer, cloudsqlViewer, projectCudViewer) "
     "on the project, and the API enabled"),
    (None, (500, "INTERNAL"),
     "the Recommender API failed on Google's side (500 INTERNAL: injected); the next run retries"),
    (ExpiredCredentials(), None,
     "Google rejected the credentials (RefreshError: invalid_grant: Token has been expired or revoked.); refresh "
     "them (gcloud auth application-default login) or check the service account key"),
])
def test_google_errors_are_one_line(credentials, failure, reason):
    with RecommenderServer([RESIZE]) as server:
        if failure:
            server.failures.append(failure)
        with pytest.raises(SourceError) as error:
            source(server, credentials=credentials).recommendations()
    assert str(error.value) == f"gcp-recommender: {reason}"


def test_no_credentials_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with RecommenderServer([RESIZE]) as server:
        with pytest.raises(SourceError) as error:
            GcpRecommender(PROJECT, api_endpoint=server.url).recommendations()
        assert server.requests == []
    assert str(error.value) == (
        f"gcp-recommender: no Google credentials (File {tmp_path / 'missing.json'} was not found.): set "
        "GOOGLE_APPLICATION_CREDENTIALS, run on an identity with access, or gcloud auth application-default login")


def test_unavailable_is_retried_then_reported():
    with RecommenderServer([RESIZE]) as server:
        server.failures += [(503, "UNAVAILABLE")]
        (found,) = source(server, recommenders=[MACHINE_TYPE]).recommendations()  # retried once, then answered
        assert found.estimate_monthly == 74.57
        server.failures += [(503, "UNAVAILABLE")] * 50
        with pytest.raises(SourceError) as error:
            source(server, recommenders=[MACHINE_TYPE], retry_seconds=0.3).recommendations()
    assert str(error.value) == ("gcp-recommender: the Recommender API failed on Google's side (503 UNAVAILABLE: "
                                "injected); the next run retries (still failing after 0.3 s of retries)")


def test_importing_twice_opens_each_recommendation_once_and_names_what_it_left_out(sqlite_db: Database):
    ctx = build_context(Settings(database_url=sqlite_db.url), teams=parse_teams(TEAMS), upgrade=False,
                        transport=TerminalTransport(stream=io.StringIO()),
                        now=lambda: datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    with RecommenderServer([RESIZE, IN_EUR, UPSIZE]) as server:
        first = import_recommendations(ctx, source(server), by="cli:ops")
    # the next day Google regenerated the VM's recommendation under a new id, and found the idle disk
    renewed = {**RESIZE, "name": RESIZE["name"].replace("r-vm-1", "r-vm-1-renewed")}
    with RecommenderServer([renewed, IDLE, IN_EUR]) as server:
        again = import_recommendations(ctx, source(server), by="cli:ops")
    assert [(f.external_id, f.team, f.assignee, str(f.estimate_monthly)) for f in first.created] == [
        (f"{PROJECT}|{VM}|CHANGE_MACHINE_TYPE", "shop", "U_SHOP_LEAD", "74.57")]
    assert [(r.external_id, why) for r, why in first.left_out] == [
        (f"{PROJECT}|{DISK.replace('old-data', 'scratch')}|SNAPSHOT_AND_DELETE_DISK",
         "its saving is in EUR; costbot's ledger is in USD and does not convert")]
    assert [(f.external_id, str(f.estimate_monthly)) for f in again.created] == [
        (f"{PROJECT}|{DISK}|SNAPSHOT_AND_DELETE_DISK", "12.52")]
    assert [f.id for f in again.existing] == [first.created[0].id]
    assert [(f.source, f.title) for f in FindingStore(sqlite_db).list_findings()] == [
        ("gcp-recommender", "Save cost by changing machine type from e2-standard-8 to e2-standard-4: web-1"),
        ("gcp-recommender", "Save cost by snapshotting and then deleting idle persistent disk 'old-data': old-data")]


def test_locations_in_cost_data_come_from_resource_names_and_regions() -> None:
    from finops.sources.gcp_recommender import locations_in_cost_data

    resources = ["//compute.googleapis.com/projects/p/zones/us-east1-b/instances/vm-1",
                 "//compute.googleapis.com/projects/p/zones/us-east1-b/disks/d-1",
                 "//compute.googleapis.com/projects/p/regions/europe-west4/addresses/ip-1",
                 "vm-short-name", ""]
    assert locations_in_cost_data(["us-east1", "asia-south1", "US", "europe", "global", ""], resources) == (
        "us-east1-b", "asia-south1", "europe-west4", "global")  # us-east1 is covered by its zone
    assert locations_in_cost_data(["US", ""], ["bucket-1"]) == ()
