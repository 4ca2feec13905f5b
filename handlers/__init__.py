"""Slack listeners, one small module per surface. Each module has ``register(app, ctx)``.

``register_all`` imports every module of this package, so a new surface is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from slack_bolt import App

from bot.context import AppContext


def register_all(app: App, ctx: AppContext) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app, ctx)
