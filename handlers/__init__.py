"""Slack listeners, one small module per surface. Each module has ``register(app, ctx)``.

``register_all`` imports every module of this package, so a new surface is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from slack_bolt import App

from bot.context import AppContext


def handler_modules() -> list[ModuleType]:
    """Every listener module (importing them also registers their /cost subcommands)."""
    return [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)]


def register_all(app: App, ctx: AppContext) -> None:
    for module in handler_modules():
        register = getattr(module, "register", None)
        if register is not None:
            register(app, ctx)
