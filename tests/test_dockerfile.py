"""The Dockerfile's install works from exactly what it copies: a wheel is built from those files
alone (no Docker daemon needed), with the migrations, the bundled data and the console script;
and the image runs `costbot run` as a non-root user."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_lines() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]


def test_the_image_runs_the_bot_as_a_non_root_user():
    lines = dockerfile_lines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert lines[-1] == 'CMD ["costbot", "run"]'
    assert any(line.startswith("HEALTHCHECK ") and "/health" in line for line in lines)


def test_a_wheel_builds_from_the_files_the_dockerfile_copies(tmp_path: Path):
    context = tmp_path / "context"
    context.mkdir()
    for line in dockerfile_lines():
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for source in sources:
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(path, context / source)
    # The build backend of this environment when it has one (fast, offline); else pip fetches it.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w",
                    str(tmp_path / "wheel"), str(context)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "wheel").glob("costbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "storage/migrations/versions/0001_foundation.py" in names
    assert "finops/sources/data/azure_services.csv" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "costbot = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)  # the license ships with it
