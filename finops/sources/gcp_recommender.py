"""GCP Recommender: a project's cost recommendations as savings findings (read-only).

``ListRecommendations`` of ``projects/{project}/locations/{location}/recommenders/{recommender}``
(all pages, filtered to ``stateInfo.state = ACTIVE``) for each cost recommender in each location
it runs in, through google-cloud-recommender's ``RecommenderClient`` over REST with Application
Default Credentials (read-only roles: roles/recommender.viewer, or the narrower
roles/recommender.computeViewer, cloudsqlViewer and projectCudViewer; docs/cost-data.md). Only recommendations whose primary impact is COST and
projects a cost decrease become a :class:`~finops.sources.recommendations.Recommendation`, with
source ``gcp-recommender``.

Locations: a recommender runs per zone (VM sizing, idle VMs and disks), per region (idle
addresses, Cloud SQL, commitments) or globally (idle images, global addresses). Each location
given is asked of the recommenders of its kind: a zone (``us-central1-a``) also stands for its
region, a region does not stand for its zones (the API lists no zones), ``global`` for itself.

The estimate: the cost projection is a cost (negative for a saving: ``units`` + ``nanos`` / 10⁹,
in ``currencyCode``) over a ``duration``; it is scaled exactly (decimal arithmetic) to the
average month of :data:`finops.savings.DAYS_PER_MONTH` days (30.4375), then rounded to the cent:
``saving = -cost × 30.4375 days / duration``. A 30-day projection of -$100.00 is $101.46 a month.

Its external id names what it is about, stable across Google's refreshes (the recommendation's
own id changes when it is regenerated): ``project|resource|recommenderSubtype`` for advice on a
resource, ``project|recommender|location|recommenderSubtype`` for one that names no existing
resource (a commitment purchase). Its scope on cost data: provider "Google Cloud" and the
project (as the billing export's ``project.id``, the SubAccountId of GCP cost rows), then the
resource by its full name (``//compute.googleapis.com/projects/p/zones/z/instances/vm-1``, as the
export's ``resource.global_name`` spells resources) and its short name (``vm-1``, the export's
``resource.name``); a commitment purchase scopes the service and region instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as retries
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials
from google.cloud import recommender_v1

from finops.money import cents
from finops.savings import DAYS_PER_MONTH
from finops.sources.connector import SourceError
from finops.sources.recommendations import Recommendation, natural_key, title_of, words

log = logging.getLogger(__name__)

SOURCE = "gcp-recommender"
PROVIDER = "Google Cloud"  # ProviderName of the GCP cost readers (gcp_bigquery.py, gcp_export.py)
ENDPOINT = "recommender.googleapis.com"
ACTIVE_FILTER = "stateInfo.state = ACTIVE"
PAGE_SIZE = 1000
MAX_PAGES = 1000  # a guard against a page token that never ends
DEFAULT_RETRY_SECONDS = 60.0
SECONDS_PER_MONTH = Decimal(str(DAYS_PER_MONTH)) * 86400

ZONE, REGION, GLOBAL = "zone", "region", "global"
# The cost recommenders of a project and the kinds of location each runs in.
COST_RECOMMENDERS: dict[str, frozenset[str]] = {
    "google.compute.instance.MachineTypeRecommender": frozenset({ZONE}),
    "google.compute.instance.IdleResourceRecommender": frozenset({ZONE}),
    "google.compute.instanceGroupManager.MachineTypeRecommender": frozenset({ZONE, REGION}),
    "google.compute.disk.IdleResourceRecommender": frozenset({ZONE}),
    "google.compute.address.IdleResourceRecommender": frozenset({REGION, GLOBAL}),
    "google.compute.image.IdleResourceRecommender": frozenset({GLOBAL}),
    "google.compute.commitment.UsageCommitmentRecommender": frozenset({REGION}),
    "google.cloudsql.instance.IdleRecommender": frozenset({REGION}),
    "google.cloudsql.instance.OverprovisionedRecommender": frozenset({REGION}),
}
# Google's default region, when neither the command nor the cost data names a location: its
# zones, the region and global.
DEFAULT_LOCATIONS = ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "global")
# ServiceName of the billing export (``service.description``) for a recommender's product.
SERVICES = {"compute": "Compute Engine", "cloudsql": "Cloud SQL"}

_REGION = re.compile(r"^[a-z]+(?:-[a-z]+)+\d+$")
_ZONE = re.compile(r"^([a-z]+(?:-[a-z]+)+\d+)-[a-z]$")


def location_kind(location: str) -> str:
    """``zone``, ``region`` or ``global``; ValueError for anything else."""
    if location == GLOBAL:
        return GLOBAL
    if _ZONE.match(location):
        return ZONE
    if _REGION.match(location):
        return REGION
    raise ValueError(f"{location!r} is not a GCP location: a zone like us-central1-a, a region like us-central1, "
                     "or global")


def region_of(location: str) -> str:
    """``us-central1-a`` and ``us-central1`` -> ``us-central1``; ``global`` -> ""."""
    zone = _ZONE.match(location)
    return zone.group(1) if zone else ("" if location == GLOBAL else location)


# A zone or region in a resource's full name: //compute.googleapis.com/projects/p/zones/us-east1-b/...
_RESOURCE_LOCATION = re.compile(r"/(?:zones|regions)/([a-z]+(?:-[a-z]+)+\d+(?:-[a-z])?)(?:/|$)")


def locations_in_cost_data(regions: Iterable[str], resource_ids: Iterable[str]) -> tuple[str, ...]:
    """The locations a project has spend in, from its cost rows: the zones and regions named in its
    resources' full names (``…/zones/us-east1-b/instances/vm-1``) and its rows' regions
    (``RegionId``), then ``global``; empty when the rows name none. Multi-regions (``us``,
    ``europe``) and other labels are not Recommender locations and are left out.

    Zones matter: VM and disk recommenders run per zone, and a region does not stand for its
    zones, so a project whose rows name only regions gets the regional recommenders there."""
    zones: set[str] = set()
    found: set[str] = set()
    for resource_id in resource_ids:
        for location in _RESOURCE_LOCATION.findall(resource_id or ""):
            (zones if _ZONE.match(location) else found).add(location)
    found |= {region for region in regions if region and _REGION.match(region)}
    found -= {region_of(zone) for zone in zones}  # a zone already covers its region
    if not zones and not found:
        return ()
    return (*sorted(zones), *sorted(found), GLOBAL)


def parents(project: str, locations: Iterable[str], recommenders: Iterable[str]) -> list[str]:
    """Every ``projects/P/locations/L/recommenders/R`` to list: each recommender in the given
    locations of its kinds (a zone also stands for its region). ValueError for a bad location or
    an unknown recommender."""
    by_kind: dict[str, list[str]] = {ZONE: [], REGION: [], GLOBAL: []}
    for location in locations:
        kind = location_kind(location)
        by_kind[kind].append(location)
        if kind == ZONE:
            by_kind[REGION].append(region_of(location))
    found = []
    for recommender in recommenders:
        if recommender not in COST_RECOMMENDERS:
            raise ValueError(f"{recommender!r} is not a cost recommender costbot knows: "
                             f"{', '.join(COST_RECOMMENDERS)}")
        for kind in (ZONE, REGION, GLOBAL):
            if kind in COST_RECOMMENDERS[recommender]:
                found += [f"projects/{project}/locations/{location}/recommenders/{recommender}"
                          for location in dict.fromkeys(by_kind[kind])]
    return found


def _amount(money: Any) -> Decimal:
    # google.type.Money: units and nanos carry the same sign; nanos are billionths.
    return Decimal(money.units) + Decimal(money.nanos).scaleb(-9)


def monthly_saving(projection: Any) -> tuple[Decimal, str] | None:
    """(saving per month to the cent, currency) of a CostProjection protobuf; None without a duration.

    The cost is the one in USD when either of ``cost`` and ``costInLocalCurrency`` is (the
    ledger's currency), else ``cost``. Rule: ``-cost × 30.4375 days / duration`` (module docstring).
    """
    money = projection.cost
    if money.currency_code != "USD" and projection.HasField("cost_in_local_currency") \
            and projection.cost_in_local_currency.currency_code == "USD":
        money = projection.cost_in_local_currency
    seconds = Decimal(projection.duration.seconds) + Decimal(projection.duration.nanos).scaleb(-9)
    if seconds <= 0:
        return None
    return cents(-_amount(money) * SECONDS_PER_MONTH / seconds), money.currency_code or "USD"


def _resources(item: Any) -> list[str]:
    """The resources a recommendation is about: its target resources, else those its operations
    act on (not those an ``add`` would create: a new commitment's name is not what it is about)."""
    if item.target_resources:
        return list(dict.fromkeys(item.target_resources))
    return list(dict.fromkeys(op.resource for group in item.content.operation_groups for op in group.operations
                              if op.resource and op.action != "add"))


def recommendation_from_item(item: Any, project: str) -> Recommendation | None:
    """One ``google.cloud.recommender.v1.Recommendation`` protobuf as a Recommendation (None when it
    is not active, not a cost saving, or saves nothing to the cent)."""
    if item.state_info.state != recommender_v1.RecommendationStateInfo.State.ACTIVE:
        return None
    impact = item.primary_impact
    if impact.category != recommender_v1.Impact.Category.COST or not impact.HasField("cost_projection"):
        return None
    found = monthly_saving(impact.cost_projection)
    if found is None:
        log.warning("%s %s left out: its cost projection has no duration", SOURCE, item.name)
        return None
    saving, currency = found
    if saving <= 0:  # a cost increase, or nothing to save to the cent
        return None
    parts = item.name.split("/")  # projects/P/locations/L/recommenders/R/recommendations/ID
    location, recommender = (parts[3], parts[5]) if len(parts) >= 8 else ("", "")
    region = region_of(location) if location else ""
    service = SERVICES.get(recommender.split(".")[1] if recommender.count(".") >= 2 else "", "")
    subtype = item.recommender_subtype
    resources = _resources(item)
    scope: dict[str, list[str]] = {"provider": [PROVIDER], "sub_account_id": [project]}
    if resources:
        key = natural_key(project, resources[0], subtype)
        scope["resource_id"] = list(dict.fromkeys(n for r in resources for n in (r, r.rsplit("/", 1)[-1])))
        target = ", ".join(r.rsplit("/", 1)[-1] for r in resources)
    else:
        key = natural_key(project, recommender, location, subtype)
        scope.update({k: [v] for k, v in (("service", service), ("region", region)) if v})
        target = location
    what = item.description or words(subtype.title().replace("_", "")) or "GCP Recommender cost recommendation"
    notes = (f"GCP Recommender ({recommender}, {subtype or 'no subtype'}, priority "
             f"{recommender_v1.Recommendation.Priority(item.priority).name}): {item.description}; recommendation "
             f"{item.name} (Google renews these ids)")
    return Recommendation(
        source=SOURCE, external_id=key, title=title_of(f"{what.rstrip('.')}: {target}" if target else what),
        provider=PROVIDER, account=project, scope=scope, estimate_monthly=float(saving), currency=currency,
        region=region, resource_id=resources[0] if resources else "", service=service, notes=notes)


def _first_line(message: object) -> str:
    text = str(message).strip()
    return text.splitlines()[0] if text else ""


_REQUEST_PREFIX = re.compile(r"^[A-Z]+ https?://\S+: ")


def _said(error: api_exceptions.GoogleAPICallError) -> str:
    # The REST transport prefixes Google's message with the request ("GET https://...: "): the URL is noise.
    return f"{error.code} {_REQUEST_PREFIX.sub('', _first_line(error.message))}"


def error_reason(error: Exception) -> str:
    """One line: what went wrong reading the Recommender API, and what to do."""
    if isinstance(error, auth_exceptions.DefaultCredentialsError):
        return (f"no Google credentials ({_first_line(error)}): set GOOGLE_APPLICATION_CREDENTIALS, run on an "
                "identity with access, or gcloud auth application-default login")
    if isinstance(error, auth_exceptions.GoogleAuthError):
        return (f"Google rejected the credentials ({type(error).__name__}: {_first_line(error)}); refresh them "
                "(gcloud auth application-default login) or check the service account key")
    if isinstance(error, api_exceptions.Unauthorized):
        return f"Google rejected the credentials ({_said(error)})"
    if isinstance(error, api_exceptions.TooManyRequests):
        return f"Google throttled the Recommender API ({_said(error)}); the next run retries"
    if isinstance(error, api_exceptions.Forbidden):
        return (f"Google denied access to the Recommender API ({_said(error)}): the "
                "identity needs roles/recommender.viewer (or the narrower roles/recommender.computeViewer, "
                "cloudsqlViewer, projectCudViewer) on the project, and the API enabled")
    if isinstance(error, api_exceptions.ServerError):
        return (f"the Recommender API failed on Google's side ({_said(error)}); the next "
                "run retries")
    if isinstance(error, api_exceptions.GoogleAPICallError):
        return f"the Recommender API refused the request ({_said(error)})"
    return f"the request to the Recommender API failed ({type(error).__name__}: {_first_line(error)})"


class GcpRecommender:
    """Cost recommendations of one project from the GCP Recommender API.

    ``project``: the project ID (as cost rows name it). ``locations``: zones, regions and
    ``global`` (default :data:`DEFAULT_LOCATIONS`); ``recommenders``: default every one of
    :data:`COST_RECOMMENDERS`. ``api_endpoint`` (``http://127.0.0.1:port`` for a local test
    server) and ``credentials`` (default: Application Default Credentials) configure the REST
    client, or pass ``client``. Transient failures (503, deadline) are retried for up to
    ``retry_seconds``.
    """

    source = SOURCE

    def __init__(self, project: str, *, locations: Sequence[str] = DEFAULT_LOCATIONS,
                 recommenders: Sequence[str] = tuple(COST_RECOMMENDERS), api_endpoint: str | None = None,
                 credentials: Credentials | None = None, client: Any | None = None,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        if not project or "/" in project:
            raise ValueError(f"{project!r} is not a GCP project ID")
        self.project = project
        self.parents = parents(project, locations, recommenders)
        if not self.parents:
            raise ValueError(f"none of the recommenders runs in the locations {', '.join(locations) or '(none)'}: "
                             "give zones (us-central1-a) for VMs and disks, regions or global for the others")
        self._client_options = {"api_endpoint": api_endpoint or ENDPOINT}
        self._credentials = credentials
        self._client = client
        self.retry = retries.Retry(
            initial=0.1, maximum=10.0, multiplier=1.3, deadline=retry_seconds,
            predicate=retries.if_exception_type(api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded))

    @property
    def client(self) -> Any:
        # Built on first use: without credentials it looks up Application Default Credentials.
        if self._client is None:
            self._client = recommender_v1.RecommenderClient(
                transport="rest", credentials=self._credentials, client_options=self._client_options)
        return self._client

    def recommendations(self) -> list[Recommendation]:
        """Every active cost recommendation with a saving, of every recommender and location, all
        pages; SourceError when Google cannot be read."""
        found = []
        try:
            for parent in self.parents:
                request = recommender_v1.ListRecommendationsRequest(parent=parent, filter=ACTIVE_FILTER,
                                                                    page_size=PAGE_SIZE)
                pager = self.client.list_recommendations(request=request, retry=self.retry)
                for number, page in enumerate(pager.pages, start=1):
                    if number > MAX_PAGES:
                        raise SourceError(SOURCE, f"more than {MAX_PAGES} pages of recommendations in {parent}: "
                                                  "stopped")
                    found += [r for r in (recommendation_from_item(recommender_v1.Recommendation.pb(item),
                                                                   self.project)
                                          for item in page.recommendations) if r is not None]
        except (api_exceptions.GoogleAPICallError, auth_exceptions.GoogleAuthError) as error:
            raise SourceError(SOURCE, error_reason(error)) from error
        except api_exceptions.RetryError as error:  # retried until the deadline: the last error says why
            raise SourceError(SOURCE, f"{error_reason(error.cause or error)} (still failing after "
                                      f"{self.retry.deadline:g} s of retries)") from error
        return found
