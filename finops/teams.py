"""teams.yml: who owns which spend, who may act on it, thresholds, budgets and shared-cost pools.

The file is read once at start-up. Anything wrong in it is refused with a :class:`ConfigError`
naming the file, the line and the key, because a typo in this file silently sends alerts to the
wrong channel otherwise. ``docs/teams.md`` is the reference of every key.

The YAML is *composed* (not loaded) so every node keeps its line; values are then read node by
node. Identifiers (accounts, tag values, IDs) are taken from the text as written, so an unquoted
``0123`` stays ``"0123"`` (not octal 83) and ``env: no`` stays ``"no"`` (not ``False``).
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from finops.errors import ConfigError
from finops.model import UNALLOCATED

# teams.yml match field -> the daily cost frame column it reads.
MATCH_FIELDS: dict[str, str] = {
    "resource_id": "ResourceId",
    "tag": "Tags",
    "sub_account_id": "SubAccountId",
    "billing_account_id": "BillingAccountId",
    "provider": "ProviderName",
    "service": "ServiceName",
    "region": "RegionId",
    "sku_id": "SkuId",
}

# Rule precedence: the most specific kind of field in a rule decides its rank (higher wins).
# A resource is narrower than a tag (tags span resources), a tag narrower than the account it is
# used in, an account narrower than the billing account; service/region/provider/SKU cut across
# every account and are the broadest.
KIND_RANK: dict[str, int] = {
    "resource_id": 4,
    "tag": 3,
    "sub_account_id": 2,
    "billing_account_id": 1,
    "provider": 0,
    "service": 0,
    "region": 0,
    "sku_id": 0,
}

SPLITS: tuple[str, ...] = ("proportional", "even", "fixed")
Split = Literal["proportional", "even", "fixed"]

DEFAULT_CRON = "0 9 * * MON"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CHANNEL_RE = re.compile(r"^(#[^\s#]+|[CG][A-Z0-9]{6,})$")
_USER_RE = re.compile(r"^[UW][A-Z0-9_]+$")


# The ``file`` of the teams config in use when no teams.yml is configured (COSTBOT_TEAMS unset).
NO_TEAMS_FILE = "(no teams.yml configured)"


@dataclass(frozen=True)
class Condition:
    """One field of a match rule: the row's value must equal one of ``values`` (``*`` = any text).

    For ``field == "tag"``, ``tag_key`` names the tag and the row must carry it with one of
    ``values``. Comparison is case-insensitive (see docs/teams.md, "Matching").
    """

    field: str
    values: tuple[str, ...]
    tag_key: str = ""

    @property
    def column(self) -> str:
        """The daily cost frame column this condition reads."""
        return MATCH_FIELDS[self.field]

    def describe(self) -> str:
        """``tag team=payments`` / ``sub_account_id=111|222``."""
        name = f"tag {self.tag_key}" if self.field == "tag" else self.field
        return f"{name}={'|'.join(self.values)}"


@dataclass(frozen=True)
class MatchRule:
    """A rule matches a cost row when every one of its conditions does."""

    conditions: tuple[Condition, ...]
    line: int

    @property
    def kind(self) -> str:
        """The most specific field in the rule; it decides the rule's rank."""
        return max((c.field for c in self.conditions), key=KIND_RANK.__getitem__)

    @property
    def precedence(self) -> tuple[int, int]:
        """(rank of the kind, number of conditions): the larger wins."""
        return KIND_RANK[self.kind], len(self.conditions)

    def describe(self) -> str:
        """The conditions, most specific first, e.g. ``tag team=payments, service=Amazon EC2``."""
        ordered = sorted(self.conditions, key=lambda c: -KIND_RANK[c.field])
        return ", ".join(c.describe() for c in ordered)


@dataclass(frozen=True)
class Thresholds:
    """When a change is worth an alert: at least ``min_impact_usd`` AND at least ``min_pct``."""

    min_impact_usd: float = 100.0
    min_pct: float = 0.30  # a fraction: 0.30 is 30 %
    alert_on_decrease: bool = False


@dataclass(frozen=True)
class UnitMetric:
    """A business unit a team's cost is divided by (orders, active users, ...)."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class Team:
    """One owner of spend. ``thresholds`` already has the file's defaults filled in."""

    name: str
    channel: str
    match: tuple[MatchRule, ...] = ()
    owners: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    members_from_channel: bool = True
    budget_monthly: float | None = None
    thresholds: Thresholds = Thresholds()
    unit_metrics: tuple[UnitMetric, ...] = ()
    mandatory_tags: tuple[str, ...] | None = None  # None: the top-level list applies
    line: int = 0


@dataclass(frozen=True)
class SharedCostPool:
    """Spend matching ``match`` is split across ``teams``.

    ``proportional``: by each team's direct usage on the same day (all its direct charges on a
    day without usage); ``even``: equal parts;
    ``fixed``: by ``percentages`` (team, percent) summing to 100. ``teams`` is never empty
    (the file may omit it for proportional/even, meaning every team).
    """

    name: str
    match: tuple[MatchRule, ...]
    split: Split = "proportional"
    teams: tuple[str, ...] = ()
    percentages: tuple[tuple[str, float], ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Defaults:
    """Values a team inherits when it does not set its own."""

    thresholds: Thresholds = Thresholds()
    members_from_channel: bool = True


@dataclass(frozen=True)
class DigestSchedule:
    """When weekly digests go out: a standard 5-field cron in ``timezone``."""

    cron: str = DEFAULT_CRON
    timezone: str = "UTC"

    @property
    def trigger_fields(self) -> dict[str, str]:
        """The cron as APScheduler ``CronTrigger`` keyword arguments.

        Days of the week are spelled out as names (``mon,tue``): APScheduler numbers them from
        Monday = 0 while cron uses Sunday = 0, so passing numbers through would shift the day.
        """
        return cron_fields(self.cron)


@dataclass(frozen=True)
class VerificationSettings:
    """Savings verification windows; ``verified_share`` of the estimate must be realized."""

    settle_days: int = 14
    baseline_days: int = 28
    verified_share: float = 0.8


@dataclass(frozen=True)
class TeamsConfig:
    """The whole of teams.yml, validated."""

    default_channel: str
    teams: tuple[Team, ...] = ()
    shared_costs: tuple[SharedCostPool, ...] = ()
    finance_approvers: tuple[str, ...] = ()
    defaults: Defaults = Defaults()
    mandatory_tags: tuple[str, ...] = ()
    digest: DigestSchedule = DigestSchedule()
    verification: VerificationSettings = VerificationSettings()
    timezone: str = "UTC"
    file: str = "teams.yml"
    _by_name: dict[str, Team] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {t.name: t for t in self.teams})

    @property
    def team_names(self) -> tuple[str, ...]:
        """Team names in file order."""
        return tuple(t.name for t in self.teams)

    def team(self, name: str) -> Team:
        """The team called ``name``; ``KeyError`` naming the known teams if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(self.no_team_text(name)) from None

    def no_team_text(self, name: str, where: str | None = None) -> str:
        """"no team 'x' in teams.yml (teams: ...)" (``where``: how to name the file, default its
        path), or, with no teams.yml configured at all, that: then no team is known."""
        if self.file == NO_TEAMS_FILE:
            return f"no team {name!r}: no teams.yml is configured (set COSTBOT_TEAMS or pass --teams)"
        return f"no team {name!r} in {where or self.file} (teams: {', '.join(self.team_names) or 'none'})"

    def channel_for(self, team: str) -> str:
        """The team's channel; ``default_channel`` for ``unallocated`` or a team no longer in the file."""
        found = self._by_name.get(team)
        return found.channel if found else self.default_channel

    def thresholds_for(self, team: str) -> Thresholds:
        """The team's alert thresholds; the defaults for ``unallocated`` or an unknown team."""
        found = self._by_name.get(team)
        return found.thresholds if found else self.defaults.thresholds

    def mandatory_tags_for(self, team: str) -> tuple[str, ...]:
        """The tag keys the team's resources must carry (its override, else the top-level list)."""
        found = self._by_name.get(team)
        if found is not None and found.mandatory_tags is not None:
            return found.mandatory_tags
        return self.mandatory_tags

    def is_finance_approver(self, user: str) -> bool:
        """Whether the Slack user is listed in ``finance_approvers``."""
        return user in self.finance_approvers

    def may_act(self, user: str, team: str, channel_members: frozenset[str] = frozenset()) -> bool:
        """Whether a Slack user may act on something owned by ``team``.

        Finance approvers always may; so may the team's owners and members, and, when the team
        has ``members_from_channel`` (the default), the members of its channel, which the caller
        passes in ``channel_members`` (the domain does not call Slack). For ``unallocated`` or a
        team no longer in the file, the default channel's members may when
        ``defaults.members_from_channel`` is set.
        """
        if self.is_finance_approver(user):
            return True
        found = self._by_name.get(team)
        if found is None:
            return self.defaults.members_from_channel and user in channel_members
        if user in found.owners or user in found.members:
            return True
        return found.members_from_channel and user in channel_members


# ---------------------------------------------------------------------------------------------
# Loading


def load_teams(path: str | Path) -> TeamsConfig:
    """Read and validate a teams.yml file; :class:`ConfigError` (file, line, key) if it is wrong."""
    return parse_teams(read_config_text(path), file=str(path))


def parse_teams(text: str, *, file: str = "teams.yml") -> TeamsConfig:
    """Validate teams.yml text; ``file`` is the name used in error messages and rule labels."""
    root = compose_config(text, file=file, empty="the file is empty: it needs at least default_channel and teams")
    return ConfigReader(file).config(root)


def read_config_text(path: str | Path) -> str:
    """A config file's text (a UTF-8 BOM dropped); :class:`ConfigError` naming the file if it
    cannot be read or is not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror or error}", file=str(path)) from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text ({error.reason} at byte {error.start})", file=str(path)) from None


def compose_config(text: str, *, file: str, empty: str) -> Node:
    """The YAML node tree of a config file's text (nodes keep their line numbers for messages);
    :class:`ConfigError` with the line of a syntax error, or ``empty`` when there is nothing."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise yaml_syntax_error(error, file) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}", file=file) from None
    if root is None or is_null(root):
        raise ConfigError(empty, file=file, line=1)
    return root


def yaml_syntax_error(error: yaml.MarkedYAMLError, file: str) -> ConfigError:
    """Name the line where the mistake is: for an unclosed quote or bracket the parser only
    notices at the end of the file, so the line where the construct started is the useful one."""
    problem, context = error.problem or "syntax error", error.context
    mark = error.problem_mark or error.context_mark
    if context and error.context_mark is not None:
        if "end of stream" in problem:
            mark = error.context_mark
        problem = f"{problem} ({context} on line {error.context_mark.line + 1})"
    return ConfigError(f"not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None)


# ---------------------------------------------------------------------------------------------
# Node reading

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
# The per-type methods, not construct_object: that one caches every node it sees for the life of
# the constructor.
_CONSTRUCT = yaml.constructor.SafeConstructor()

TOP_KEYS = ("default_channel", "teams", "shared_costs", "finance_approvers", "defaults",
            "mandatory_tags", "digest", "verification", "timezone")
TEAM_KEYS = ("name", "channel", "match", "owners", "members", "members_from_channel", "budget_monthly",
             "thresholds", "unit_metrics", "mandatory_tags")
POOL_KEYS = ("name", "match", "split", "teams")
THRESHOLD_KEYS = ("min_impact_usd", "min_pct", "alert_on_decrease")
DEFAULTS_KEYS = ("thresholds", "members_from_channel")
UNIT_METRIC_KEYS = ("name", "description")
DIGEST_KEYS = ("cron", "timezone")
VERIFICATION_KEYS = ("settle_days", "baseline_days", "verified_share")


_EMPTY_CHANNEL = 'the channel is empty; quote it, e.g. "#team-payments" (YAML reads an unquoted # as a comment)'


def node_line(node: Node) -> int:
    return node.start_mark.line + 1


def node_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def describe_node(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing"
    return repr(node.value)


def _unknown(word: str, allowed: Sequence[str], what: str, listed: str = "allowed") -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {word!r}{hint}; {listed}: {', '.join(allowed)}"


class ConfigReader:
    """Reads the composed YAML tree into the dataclasses, raising ConfigError on the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, message: str, node: Node, key: str | None) -> ConfigError:
        return ConfigError(message, file=self.file, line=node_line(node), key=key or None)

    # -- generic shapes -------------------------------------------------------------------------

    def mapping(self, node: Node, key: str, allowed: Sequence[str] | None, *,
                what: str = "key") -> dict[str, tuple[Node, Node]]:
        """Key -> (key node, value node); unknown and duplicate keys are errors."""
        if not isinstance(node, MappingNode):
            raise self.error(f"must be a mapping (key: value lines), got {describe_node(node)}", node, key)
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or is_null(key_node):
                raise self.error("keys must be plain words", key_node, key)
            name = key_node.value
            where = node_path(key, name)
            if allowed is not None and name not in allowed:
                raise self.error(_unknown(name, allowed, what), key_node, where)
            if name in out:
                raise self.error(f"duplicate key {name!r} (first on line {node_line(out[name][0])})", key_node, where)
            out[name] = (key_node, value_node)
        return out

    def items(self, node: Node, key: str) -> list[Node]:
        """A list's items; a single value counts as a one-item list."""
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            raise self.error("must be a list (lines starting with '- '), got a mapping", node, key)
        return [node]

    def text(self, node: Node, key: str) -> str:
        """A non-empty text value, exactly as written (so IDs keep leading zeros)."""
        if not isinstance(node, ScalarNode) or node.tag not in (_STR, _INT, _FLOAT, _BOOL):
            raise self.error(f"must be a text value, got {describe_node(node)}", node, key)
        value = node.value.strip()
        if not value:
            raise self.error("must not be empty", node, key)
        return value

    def texts(self, node: Node, key: str) -> tuple[str, ...]:
        return tuple(self.text(item, node_path(key, i)) for i, item in enumerate(self.items(node, key)))

    def number(self, node: Node, key: str, *, minimum: float | None = None, maximum: float | None = None,
               hint: str = "") -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.error(f"must be a number{hint}, got {describe_node(node)}", node, key)
        value = float(_CONSTRUCT.construct_yaml_int(node) if node.tag == _INT else _CONSTRUCT.construct_yaml_float(node))
        if value != value or value in (float("inf"), float("-inf")):
            raise self.error(f"must be a finite number, got {node.value!r}", node, key)
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum:g}, got {node.value}", node, key)
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum:g}{hint}, got {node.value}", node, key)
        return value

    def integer(self, node: Node, key: str, *, minimum: int) -> int:
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            raise self.error(f"must be a whole number, got {describe_node(node)}", node, key)
        value = int(_CONSTRUCT.construct_yaml_int(node))
        if value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}", node, key)
        return value

    def boolean(self, node: Node, key: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            raise self.error(f"must be true or false, got {describe_node(node)}", node, key)
        return bool(_CONSTRUCT.construct_yaml_bool(node))

    def name(self, node: Node, key: str, what: str) -> str:
        value = self.text(node, key)
        if not _NAME_RE.match(value):
            raise self.error(f"{what} name {value!r} may only hold letters, digits, '-', '_' and '.' "
                             "(names are typed in commands such as team=payments)", node, key)
        return value

    def channel(self, node: Node, key: str) -> str:
        value = self.text(node, key)
        if not _CHANNEL_RE.match(value):
            raise self.error(f"channel {value!r} must be '#name' (quoted: YAML reads # as a comment) "
                             "or a channel ID like C0123456789", node, key)
        return value

    def users(self, node: Node, key: str) -> tuple[str, ...]:
        users = self.texts(node, key)
        for i, (item, user) in enumerate(zip(self.items(node, key), users, strict=True)):
            if not _USER_RE.match(user):
                raise self.error(f"{user!r} is not a Slack user ID: IDs look like U0123ABCD "
                                 "(profile menu > Copy member ID)", item, node_path(key, i))
        return tuple(dict.fromkeys(users))

    def tag_keys(self, node: Node, key: str) -> tuple[str, ...]:
        seen: dict[str, int] = {}
        keys = self.texts(node, key)
        for i, (item, tag) in enumerate(zip(self.items(node, key), keys, strict=True)):
            if tag.casefold() in seen:
                raise self.error(f"tag {tag!r} is listed twice (tag keys compare case-insensitively)",
                                 item, node_path(key, i))
            seen[tag.casefold()] = i
        return keys

    def timezone(self, node: Node, key: str) -> str:
        value = self.text(node, key)
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(f"unknown time zone {value!r}{hint}; use an IANA name such as "
                             "Europe/Paris or America/New_York", node, key) from None
        return value

    # -- sections -------------------------------------------------------------------------------

    def config(self, root: Node) -> TeamsConfig:
        if not isinstance(root, MappingNode):
            raise self.error(f"the file must be a mapping of keys (default_channel:, teams:, ...), "
                             f"got {describe_node(root)}", root, None)
        top = self.mapping(root, "", TOP_KEYS)
        if "default_channel" in top and is_null(top["default_channel"][1]):
            raise self.error(_EMPTY_CHANNEL, top["default_channel"][1], "default_channel")
        if "default_channel" not in top:
            raise self.error('missing default_channel: where unallocated spend and org posts go, '
                             'e.g. default_channel: "#finops"', root, "default_channel")
        default_channel = self.channel(top["default_channel"][1], "default_channel")
        if "teams" not in top:
            raise self.error("missing teams: the list of teams (name, channel, match)", root, "teams")
        defaults = self.defaults(top["defaults"][1]) if "defaults" in top else Defaults()
        teams = self.teams(top["teams"][1], defaults)
        names = tuple(t.name for t in teams)
        optional = {key: node for key, (_, node) in top.items() if not is_null(node)}
        timezone = self.timezone(optional["timezone"], "timezone") if "timezone" in optional else "UTC"
        return TeamsConfig(
            default_channel=default_channel,
            teams=teams,
            shared_costs=self.pools(optional["shared_costs"], names) if "shared_costs" in optional else (),
            finance_approvers=(self.users(optional["finance_approvers"], "finance_approvers")
                               if "finance_approvers" in optional else ()),
            defaults=defaults,
            mandatory_tags=(self.tag_keys(optional["mandatory_tags"], "mandatory_tags")
                            if "mandatory_tags" in optional else ()),
            digest=self.digest(optional["digest"], timezone) if "digest" in optional else DigestSchedule(
                timezone=timezone),
            verification=(self.verification(optional["verification"])
                          if "verification" in optional else VerificationSettings()),
            timezone=timezone,
            file=self.file,
        )

    def thresholds(self, node: Node, key: str, base: Thresholds) -> Thresholds:
        fields = self.mapping(node, key, THRESHOLD_KEYS)
        changes: dict[str, object] = {}
        for name, (_, value) in fields.items():
            where = node_path(key, name)
            if is_null(value):
                continue
            if name == "min_impact_usd":
                changes[name] = self.number(value, where, minimum=0)
            elif name == "min_pct":
                changes[name] = self.percent_fraction(value, where)
            else:
                changes[name] = self.boolean(value, where)
        return replace(base, **changes)

    def percent_fraction(self, node: Node, key: str) -> float:
        """``0.3`` or ``"30%"`` -> 0.3. A bare 30 is refused: it would mean 3,000 %."""
        if isinstance(node, ScalarNode) and node.tag == _STR and node.value.strip().endswith("%"):
            raw = node.value.strip()[:-1].strip()
            try:
                value = float(raw) / 100
            except ValueError:
                raise self.error(f"must be a fraction like 0.3 or a percentage like \"30%\", got {node.value!r}",
                                 node, key) from None
            if not 0 <= value <= 10:
                raise self.error(f"must be between 0% and 1000%, got {node.value!r}", node, key)
            return value
        return self.number(node, key, minimum=0, maximum=10,
                           hint=' (a fraction: 0.3 is 30 %; or write "30%")')

    def defaults(self, node: Node) -> Defaults:
        if is_null(node):
            return Defaults()
        fields = self.mapping(node, "defaults", DEFAULTS_KEYS)
        result = Defaults()
        if "thresholds" in fields and not is_null(fields["thresholds"][1]):
            result = replace(result, thresholds=self.thresholds(fields["thresholds"][1], "defaults.thresholds",
                                                                Thresholds()))
        if "members_from_channel" in fields and not is_null(fields["members_from_channel"][1]):
            result = replace(result, members_from_channel=self.boolean(fields["members_from_channel"][1],
                                                                       "defaults.members_from_channel"))
        return result

    def teams(self, node: Node, defaults: Defaults) -> tuple[Team, ...]:
        if is_null(node):
            return ()
        if not isinstance(node, SequenceNode):
            raise self.error(f"must be a list of teams (lines starting with '- name:'), got {describe_node(node)}",
                             node, "teams")
        teams: list[Team] = []
        first_line: dict[str, int] = {}
        for i, item in enumerate(node.value):
            team = self.team(item, node_path("teams", i), defaults)
            folded = team.name.casefold()
            if folded in first_line:
                name_node = self.mapping(item, "", None)["name"][1]
                raise self.error(f"duplicate team name {team.name!r} (first defined on line {first_line[folded]}; "
                                 "names compare case-insensitively)", name_node, node_path(node_path("teams", i), "name"))
            first_line[folded] = team.line
            teams.append(team)
        return tuple(teams)

    def team(self, node: Node, key: str, defaults: Defaults) -> Team:
        fields = self.mapping(node, key, TEAM_KEYS)
        given = {name: value for name, (_, value) in fields.items() if not is_null(value)}
        if "name" not in given:
            raise self.error("missing name: every team needs one, e.g. name: payments", node, node_path(key, "name"))
        name = self.name(given["name"], node_path(key, "name"), "team")
        if name.casefold() == UNALLOCATED:
            raise self.error(f"{UNALLOCATED!r} is reserved for spend no rule matches", given["name"],
                             node_path(key, "name"))
        if "channel" in fields and "channel" not in given:
            raise self.error(_EMPTY_CHANNEL, fields["channel"][1], node_path(key, "channel"))
        if "channel" not in given:
            raise self.error(f'missing channel: the team\'s alert channel, e.g. channel: "#team-{name}"',
                             node, node_path(key, "channel"))
        team = Team(name=name, channel=self.channel(given["channel"], node_path(key, "channel")),
                    thresholds=defaults.thresholds, members_from_channel=defaults.members_from_channel,
                    line=node_line(node))
        changes: dict[str, object] = {}
        for field_name, value in given.items():
            where = node_path(key, field_name)
            if field_name == "match":
                changes["match"] = self.rules(value, where)
            elif field_name in ("owners", "members"):
                changes[field_name] = self.users(value, where)
            elif field_name == "members_from_channel":
                changes[field_name] = self.boolean(value, where)
            elif field_name == "budget_monthly":
                if isinstance(value, ScalarNode) and value.tag in (_INT, _FLOAT) and value.value.startswith("-"):
                    raise self.error(f"a budget cannot be negative, got {value.value}", value, where)
                changes[field_name] = self.number(value, where, minimum=0, hint=" (USD per month, e.g. 25000)")
            elif field_name == "thresholds":
                changes[field_name] = self.thresholds(value, where, defaults.thresholds)
            elif field_name == "unit_metrics":
                changes[field_name] = self.unit_metrics(value, where)
            elif field_name == "mandatory_tags":
                changes[field_name] = self.tag_keys(value, where)
        return replace(team, **changes)

    def unit_metrics(self, node: Node, key: str) -> tuple[UnitMetric, ...]:
        metrics: list[UnitMetric] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(self.items(node, key)):
            where = node_path(key, i)
            if isinstance(item, ScalarNode) and not is_null(item):
                metric = UnitMetric(self.name(item, where, "unit metric"))
            else:
                fields = self.mapping(item, where, UNIT_METRIC_KEYS)
                if "name" not in fields or is_null(fields["name"][1]):
                    raise self.error("missing name: e.g. name: orders", item, node_path(where, "name"))
                description = fields.get("description", (None, None))[1]
                metric = UnitMetric(
                    name=self.name(fields["name"][1], node_path(where, "name"), "unit metric"),
                    description=("" if description is None or is_null(description)
                                 else self.text(description, node_path(where, "description"))),
                )
            if metric.name in seen:
                raise self.error(f"unit metric {metric.name!r} is listed twice (first on line {seen[metric.name]})",
                                 item, where)
            seen[metric.name] = node_line(item)
            metrics.append(metric)
        return tuple(metrics)

    def rules(self, node: Node, key: str) -> tuple[MatchRule, ...]:
        return tuple(self.rule(item, node_path(key, i)) for i, item in enumerate(self.items(node, key)))

    def rule(self, node: Node, key: str) -> MatchRule:
        fields = self.mapping(node, key, tuple(MATCH_FIELDS), what="match field")
        if not fields:
            raise self.error("an empty rule would match everything; give at least one field, "
                             "e.g. - sub_account_id: \"111222330440\"", node, key)
        conditions: list[Condition] = []
        for name, (_, value) in fields.items():
            where = node_path(key, name)
            if name != "tag":
                conditions.append(Condition(name, self.match_values(value, where)))
                continue
            tags = self.mapping(value, where, None)
            if not tags:
                raise self.error("give at least one tag, e.g. tag: {team: payments}", value, where)
            folded: dict[str, int] = {}
            for tag_key, (tag_key_node, tag_value) in tags.items():
                if tag_key.casefold() in folded:
                    raise self.error(f"tag {tag_key!r} appears twice (tag keys compare case-insensitively)",
                                     tag_key_node, node_path(where, tag_key))
                folded[tag_key.casefold()] = 1
                conditions.append(Condition("tag", self.match_values(tag_value, node_path(where, tag_key)),
                                            tag_key=tag_key))
        return MatchRule(tuple(conditions), node_line(node))

    def match_values(self, node: Node, key: str) -> tuple[str, ...]:
        if is_null(node):
            raise self.error("missing value to match", node, key)
        values = self.texts(node, key)
        if not values:
            raise self.error("an empty list matches nothing; give at least one value", node, key)
        return tuple(dict.fromkeys(values))

    def pools(self, node: Node, team_names: tuple[str, ...]) -> tuple[SharedCostPool, ...]:
        if not isinstance(node, SequenceNode):
            raise self.error(f"must be a list of pools (lines starting with '- name:'), got {describe_node(node)}",
                             node, "shared_costs")
        pools: list[SharedCostPool] = []
        first_line: dict[str, int] = {}
        for i, item in enumerate(node.value):
            pool = self.pool(item, node_path("shared_costs", i), team_names)
            if pool.name in first_line:
                raise self.error(f"duplicate pool name {pool.name!r} (first defined on line {first_line[pool.name]})",
                                 item, node_path(node_path("shared_costs", i), "name"))
            first_line[pool.name] = pool.line
            pools.append(pool)
        return tuple(pools)

    def pool(self, node: Node, key: str, team_names: tuple[str, ...]) -> SharedCostPool:
        fields = self.mapping(node, key, POOL_KEYS)
        given = {name: value for name, (_, value) in fields.items() if not is_null(value)}
        if "name" not in given:
            raise self.error("missing name: every shared-cost pool needs one, e.g. name: support-fees",
                             node, node_path(key, "name"))
        name = self.name(given["name"], node_path(key, "name"), "pool")
        if "match" not in given:
            raise self.error("missing match: the rules that pick the pool's spend", node, node_path(key, "match"))
        rules = self.rules(given["match"], node_path(key, "match"))
        if not rules:
            raise self.error("give at least one rule", given["match"], node_path(key, "match"))
        split: Split = "proportional"
        if "split" in given:
            word = self.text(given["split"], node_path(key, "split"))
            if word not in SPLITS:
                raise self.error(_unknown(word, SPLITS, "split"), given["split"], node_path(key, "split"))
            split = word  # type: ignore[assignment]
        teams_key = node_path(key, "teams")
        if split == "fixed":
            if "teams" not in given or not isinstance(given["teams"], MappingNode):
                raise self.error("split: fixed needs teams as {team: percent}, e.g. teams: {payments: 60, search: 40}",
                                 given.get("teams", node), teams_key)
            return SharedCostPool(name, rules, split, *self.fixed_shares(given["teams"], teams_key, team_names),
                                  line=node_line(node))
        if "teams" in given and isinstance(given["teams"], MappingNode):
            raise self.error(f"teams as {{team: percent}} is only for split: fixed; for split: {split} "
                             "give a list of team names", given["teams"], teams_key)
        teams = team_names
        if "teams" in given:
            teams = self.texts(given["teams"], teams_key)
            for i, (item, team) in enumerate(zip(self.items(given["teams"], teams_key), teams, strict=True)):
                self.known_team(team, item, node_path(teams_key, i), team_names)
                if team in teams[:i]:
                    raise self.error(f"team {team!r} is listed twice", item, node_path(teams_key, i))
        if not teams:
            raise self.error("no teams to split across", given.get("teams", node), teams_key)
        return SharedCostPool(name, rules, split, teams, line=node_line(node))

    def fixed_shares(self, node: Node, key: str,
                     team_names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[str, float], ...]]:
        shares = self.mapping(node, key, None)
        if not shares:
            raise self.error("give at least one team with its percent", node, key)
        total = Decimal(0)
        pairs: list[tuple[str, float]] = []
        for team, (team_node, value) in shares.items():
            where = node_path(key, team)
            self.known_team(team, team_node, where, team_names)
            percent = self.number(value, where, minimum=0, maximum=100, hint=" (a percent, e.g. 25)")
            if percent == 0:
                raise self.error("a 0 % share gives the team nothing; remove it", value, where)
            total += Decimal(repr(percent))
            pairs.append((team, percent))
        if total != 100:
            raise self.error(f"percentages add up to {total.normalize():f}; they must add up to 100", node, key)
        return tuple(team for team, _ in pairs), tuple(pairs)

    def known_team(self, team: str, node: Node, key: str, team_names: tuple[str, ...]) -> None:
        if team not in team_names:
            raise self.error(_unknown(team, team_names, "team", "teams") if team_names else
                             f"unknown team {team!r}: no teams are defined", node, key)

    def digest(self, node: Node, timezone: str) -> DigestSchedule:
        fields = self.mapping(node, "digest", DIGEST_KEYS)
        given = {name: value for name, (_, value) in fields.items() if not is_null(value)}
        cron = DEFAULT_CRON
        if "cron" in given:
            cron = self.text(given["cron"], "digest.cron")
            try:
                cron_fields(cron)
            except ValueError as error:
                raise self.error(f"bad cron {cron!r}: {error}", given["cron"], "digest.cron") from None
        if "timezone" in given:
            timezone = self.timezone(given["timezone"], "digest.timezone")
        return DigestSchedule(cron=cron, timezone=timezone)

    def verification(self, node: Node) -> VerificationSettings:
        fields = self.mapping(node, "verification", VERIFICATION_KEYS)
        changes: dict[str, object] = {}
        for name, (_, value) in fields.items():
            if is_null(value):
                continue
            where = node_path("verification", name)
            if name == "verified_share":
                share = self.number(value, where, minimum=0, maximum=1, hint=" (a fraction: 0.8 is 80 %)")
                if share == 0:
                    raise self.error("must be more than 0 (0 would verify any finding)", value, where)
                changes[name] = share
            else:
                changes[name] = self.integer(value, where, minimum=1)
        return replace(VerificationSettings(), **changes)


# ---------------------------------------------------------------------------------------------
# Cron

_CRON_FIELDS = (  # name, APScheduler keyword, low, high, names
    ("minute", "minute", 0, 59, ()),
    ("hour", "hour", 0, 23, ()),
    ("day of month", "day", 1, 31, ()),
    ("month", "month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", "day_of_week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_WEEKDAYS_FROM_SUNDAY = _CRON_FIELDS[4][4]
_WEEKDAYS_FROM_MONDAY = (*_WEEKDAYS_FROM_SUNDAY[1:], _WEEKDAYS_FROM_SUNDAY[0])


def cron_fields(expression: str) -> dict[str, str]:
    """Validate a standard 5-field cron and return it as APScheduler CronTrigger fields."""
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"a cron has 5 fields (minute hour day-of-month month day-of-week), "
                         f"e.g. {DEFAULT_CRON!r}; this one has {len(parts)}")
    out: dict[str, str] = {}
    for part, (label, keyword, low, high, names) in zip(parts, _CRON_FIELDS, strict=True):
        values = set(_cron_values(part.lower(), label, low, high, names))
        if keyword != "day_of_week":
            out[keyword] = part.lower()
            continue
        days = {v % 7 for v in values}  # 0 and 7 are both Sunday
        if len(days) == 7:
            out[keyword] = "*"
        else:
            out[keyword] = ",".join(d for d in _WEEKDAYS_FROM_MONDAY if _WEEKDAYS_FROM_SUNDAY.index(d) in days)
    return out


def _cron_values(field_text: str, label: str, low: int, high: int, names: tuple[str, ...]) -> Iterator[int]:
    def number(word: str) -> int:
        if word in names:
            return names.index(word) + (1 if label == "month" else 0)
        if not word.isdigit():
            raise ValueError(f"{label} {word!r} is not a number" + (f" or a name ({', '.join(names)})" if names else ""))
        value = int(word)
        if not low <= value <= high:
            raise ValueError(f"{label} {value} is outside {low}-{high}")
        return value

    for item in field_text.split(","):
        span, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{label} step {step_text!r} must be a positive number")
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = number(start), number(end)
            if first > last:
                raise ValueError(f"{label} range {span!r} runs backwards")
        else:
            first = number(span)
            last = high if step_text else first
        yield from range(first, last + 1, step)
