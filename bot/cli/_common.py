"""Helpers the CLI commands share: opening the app context, printing JSON and tables."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.context import AppContext, build_context
from finops.errors import CostbotError


def open_context(args: argparse.Namespace, *, json_output: bool = False) -> AppContext:
    """Settings from the environment, ``--teams`` if given; migrates the database.

    With ``--json`` anything rendered for the terminal goes to stderr, so stdout holds exactly
    one JSON document.
    """
    from bot.context import load_teams_config

    settings = load_settings()
    teams_override = getattr(args, "teams", None)
    teams = load_teams_config(settings, Path(teams_override)) if teams_override else None
    return build_context(settings, teams=teams, stream=sys.stderr if json_output else sys.stdout)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "to_json"):
        return value.to_json()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, default=_default, indent=2)
    sys.stdout.write("\n")


def parse_date(text: str) -> date:
    """argparse type for ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def print_table(headers: list[str], rows: list[list[Any]], *, right: set[int] | None = None) -> None:
    """A plain fixed-width table on stdout."""
    right = right or set()
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    print(fmt(headers).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(fmt(row).rstrip())


class UsageError(CostbotError):
    """A command-line usage problem found after argparse (exit code 2 like argparse's own)."""
