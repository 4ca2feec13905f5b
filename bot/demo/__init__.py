"""``costbot demo``: the whole story on bundled (generated) data, printed per Slack channel.

The demo runs with a fixed "today" (``DEMO_TODAY``) so its output is the same every time. Each
chapter of the story is a module ``step_NN_name.py`` in this package with a ``TITLE`` and a
``run(demo)`` function; they run in the order of their numbers, on one database.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bot.context import AppContext


@dataclass
class DemoRun:
    ctx: AppContext
    workdir: Path
    costs_file: Path
    teams_file: Path
    out: IO[str]

    def chapter(self, title: str) -> None:
        bar = "═" * 78
        print(f"\n{bar}\n  {title}\n{bar}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def demo_steps() -> list[tuple[str, Callable[[DemoRun], None]]]:
    steps = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("step_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            steps.append((module.TITLE, module.run))
    return steps
