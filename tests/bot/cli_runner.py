"""``costbot`` run in-process the way a shell runs it: a teams.yml file, the database URL in the
environment, no Slack token (messages are printed), stdout and stderr captured apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main

CliRun = Callable[..., tuple[int, str, str]]


def cli_runner(database_url: str, teams_yaml: str, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str], tmp_path: Path) -> CliRun:
    """``run(*args)`` -> (exit code, stdout, stderr) of ``costbot *args``."""
    teams_file = tmp_path / "teams.yml"
    teams_file.write_text(teams_yaml)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "COSTBOT_SOURCES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams_file))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
