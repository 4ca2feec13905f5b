"""``costbot ingest aws-ce|aws-cur|azure|gcp``: the cloud connectors (see finops/sources)."""

from __future__ import annotations

import argparse


def register(kinds: argparse._SubParsersAction) -> None:
    """Connector subcommands; each is defined next to its options below."""
