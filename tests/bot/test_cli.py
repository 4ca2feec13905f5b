"""The command line: exit codes and one-line errors (SPEC "Command-line contract")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COSTBOT_"))}
    full_env.update(env or {})
    costbot = Path(sys.executable).parent / "costbot"  # the installed console script
    return subprocess.run([str(costbot), *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or Path(__file__).resolve().parents[2], timeout=120)


def test_unknown_subcommand_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize(("env", "message"), [
    ({"PORT": "http"}, "costbot: configuration error: PORT: must be a TCP port number (0-65535), got 'http'"),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"},
     "costbot: configuration error: SLACK_BOT_TOKEN: must be a bot token starting with 'xoxb-'"),
    ({}, "costbot: configuration error: SLACK_BOT_TOKEN: required to run the bot"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "costbot: configuration error: SLACK_SIGNING_SECRET: required in HTTP mode"),
    ({"COSTBOT_TEAMS": "/nonexistent/teams.yml"},
     "costbot: configuration error: COSTBOT_TEAMS: file not found: /nonexistent/teams.yml"),
    ({"COSTBOT_DATABASE_URL": "mysql://x@y/z"},
     "costbot: configuration error: COSTBOT_DATABASE_URL: unsupported database 'mysql'"),
    ({"COSTBOT_LOG_LEVEL": "LOUD"}, "costbot: configuration error: COSTBOT_LOG_LEVEL: unknown log level 'LOUD'"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
      "COSTBOT_DATABASE_URL": "postgresql://postgres@127.0.0.1:5999/nope"},
     "costbot: configuration error: COSTBOT_DATABASE_URL: cannot open the database (connection"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
      "COSTBOT_DATABASE_URL": "sqlite:////nonexistent/dir/costbot.db"},
     "costbot: configuration error: COSTBOT_DATABASE_URL: cannot open the database (unable to open database file)"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://127.0.0.1:9/api/"},
     "costbot: configuration error: SLACK_API_URL: cannot reach Slack"),
])
def test_bad_configuration_at_start_up_is_one_line_and_exit_2(env: dict, message: str, tmp_path: Path) -> None:
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert result.stdout == ""


def test_invalid_teams_file_names_file_line_and_key(tmp_path: Path) -> None:
    teams = tmp_path / "teams.yml"
    teams.write_text('default_channel: "#finops"\nteams:\n  - name: payments\n    chanel: "#pay"\n')
    result = run_cli("run", env={"COSTBOT_TEAMS": str(teams), "SLACK_BOT_TOKEN": "xoxb-1",
                                 "SLACK_SIGNING_SECRET": "s"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{teams}, line 4" in result.stderr and "chanel" in result.stderr


def test_db_upgrade_creates_the_default_sqlite_file_in_the_working_directory(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "costbot.db").is_file()
    assert result.stdout.startswith("database at revision ")


def test_a_reader_that_stops_reading_gets_no_traceback(tmp_path: Path) -> None:
    import os

    # `costbot db upgrade | head -0`: the pipe's reading end is closed before costbot writes.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COSTBOT_"))}
    costbot = Path(sys.executable).parent / "costbot"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([str(costbot), "db", "upgrade"], stdout=write_end, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=tmp_path, timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
    assert (tmp_path / "costbot.db").is_file()  # the work itself was done


def test_a_log_level_that_is_not_one_is_a_configuration_error_not_a_traceback(tmp_path: Path) -> None:
    # basic_format is an attribute of the logging module, not a level.
    result = run_cli("teams", env={"COSTBOT_LOG_LEVEL": "basic_format"}, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("costbot: configuration error: COSTBOT_LOG_LEVEL: unknown log level 'basic_format': "
                             "DEBUG, INFO, WARNING, ERROR or CRITICAL\n")
