"""manifest.yml is a valid Slack app manifest and declares what the product uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]


def load_manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_validates_against_slack_schema() -> None:
    schema = json.loads(shared_path("reference", "slack", "manifest.schema.1.0.0.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(load_manifest()), key=str)
    assert errors == [], "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_manifest_declares_the_surfaces_and_scopes_the_bot_uses() -> None:
    manifest = load_manifest()
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/cost"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # Each Slack method the delivery layer calls needs one of these scopes.
    assert {"commands", "chat:write", "channels:history", "files:write", "channels:read", "im:write"} <= scopes


def test_every_scope_is_one_the_reference_methods_know() -> None:
    known: set[str] = set()
    for spec in shared_path("reference", "slack", "methods").glob("*.json"):
        known.update(json.loads(spec.read_text()).get("scope", {}).get("bot", []))
    unknown = set(load_manifest()["oauth_config"]["scopes"]["bot"]) - known - {"commands", "chat:write.public",
                                                                               "channels:join", "im:write"}
    assert unknown == set()
