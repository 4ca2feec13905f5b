"""``costbot``: the command line (SPEC "Command-line contract"; scripts rely on it).

Each module in this package adds its subcommands with ``register(subparsers)``; this module
only builds the parser, runs the chosen command and turns errors into one line and an exit code:
1 for bad input or a failed operation, 2 for configuration and usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from bot.cli._common import UsageError
from finops.errors import ConfigError, CostbotError, InputError


def command_modules(argv: Sequence[str] | None = None) -> list[str]:
    """The modules to load: only the named command's (each module is named after its command),
    or all of them for help and unknown commands. Importing every command pulls in every cloud
    SDK, which costs seconds at each start of a one-shot command."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    return [first] if first in names else names


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costbot",
        description="Cloud cost accountability in Slack: anomalies to owners, savings to verified "
                    "savings, variance answers, weekly digests.")
    parser.add_argument("--verbose", "-v", action="store_true", help="log more (to stderr)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules(argv):
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


# costbot's own packages: `run` logs their INFO by default, while libraries (alembic, slack_sdk)
# stay at WARNING unless COSTBOT_LOG_LEVEL asks for more.
OWN_LOGGERS = ("bot", "handlers", "jobs", "storage", "finops")
_own_handler: logging.Handler | None = None  # the stderr handler configure_logging installed


def configure_logging(verbose: bool = False, *, default: int = logging.WARNING) -> None:
    """Log to stderr: everything at ``COSTBOT_LOG_LEVEL`` when set (DEBUG with ``verbose``), else
    costbot's own loggers at ``default`` and libraries at WARNING. Called again (``costbot run``
    asks for INFO after main's WARNING), the later call wins."""
    global _own_handler
    root = logging.getLogger()
    if root.handlers and _own_handler not in root.handlers:
        return  # logging set up by someone else (a test runner, an embedding program): theirs
    level_name = os.environ.get("COSTBOT_LOG_LEVEL", "").strip().upper()
    # Only a level's name: any other attribute of `logging` is not one (load_settings says so).
    names = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    chosen = logging.DEBUG if verbose else getattr(logging, level_name) if level_name in names else None
    if _own_handler not in root.handlers:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        _own_handler = root.handlers[0]
    if chosen is not None:
        logging.getLogger().setLevel(chosen)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(default if chosen is None else logging.NOTSET)


def input_error_text(error: InputError, argv: Sequence[str]) -> str:
    """The error's one line, naming the option the user typed (``--estimate: ...``) where the
    domain named a "column" of a value that came from the command line, not from a file."""
    text = str(error)
    if error.file or error.line is not None or not error.column:
        return text
    flag = f"--{error.column.replace('_', '-')}"
    if not any(arg == flag or arg.startswith(f"{flag}=") for arg in argv):
        return text
    return f"{flag}: {text.removeprefix(f'column {error.column!r}: ')}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader gone (`costbot ... | head`) shows here, not in a traceback at exit
        return code
    except BrokenPipeError:
        # Not an error of ours: stop quietly, as a command killed by SIGPIPE does (exit 141), with
        # what is still buffered sent nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except ConfigError as e:
        print(f"costbot: configuration error: {e}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"costbot: {e}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"costbot: {input_error_text(e, argv)}", file=sys.stderr)
        return 1
    except CostbotError as e:
        print(f"costbot: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
