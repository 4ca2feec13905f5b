"""Where ../shared (the read-only reference data next to the checkout) is.

Tests and benchmarks read the shared samples and the labeled anomaly bench from there. A clone
made elsewhere finds it through ``COSTBOT_SHARED_DIR`` or, on this machine, ``/work/shared``.
"""

from __future__ import annotations

import os
from pathlib import Path

_NEXT_TO_CHECKOUT = Path(__file__).resolve().parents[2] / "shared"


def find_shared() -> Path:
    for candidate in (os.environ.get("COSTBOT_SHARED_DIR"), _NEXT_TO_CHECKOUT, "/work/shared"):
        if candidate and Path(candidate, "SPEC.md").is_file():
            return Path(candidate)
    return _NEXT_TO_CHECKOUT


SHARED = find_shared()


def shared_path(*parts: str) -> Path:
    """A file under ../shared."""
    return SHARED.joinpath(*parts)
