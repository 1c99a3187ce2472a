"""scripts/setup.py, which both README commands call, and the app's entry point on a Python without Tk.

Each test runs the real script on a copy of the project's skeleton in a temporary folder, as a user
would run it; a missing system package is simulated by a module on PYTHONPATH that fails to import
(as tkinter does on a stock Debian) and by a PATH that holds no sudo and no Xvfb.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

SYSTEM_PYTHON = Path("/usr/bin/python3")
# The interpreter this test run's venv was made from: it has the venv module and Tk, or the run would not be here.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def missing_module(folder: Path, name: str) -> Path:
    """A folder that, put on PYTHONPATH, makes `import name` fail as it does where the package is not installed."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\")\n")
    return folder


@pytest.fixture
def project() -> Iterator[Path]:
    """The script and requirements files in a folder of their own, readable by an unprivileged user."""
    folder = Path(tempfile.mkdtemp(prefix="facerec-setup-"))
    folder.chmod(0o755)
    (folder / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.py", folder / "scripts" / "setup.py")
    (folder / "requirements.txt").write_text("# nothing: the tests install no package\n")
    (folder / "requirements-dev.txt").write_text("-r requirements.txt\n")
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder
    shutil.rmtree(folder)


def unprivileged(command: list[str]) -> list[str]:
    """The command as a user who is not root (nobody), when these tests run as root."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to run as a user who is not root")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]


def path_without_sudo_or_xvfb(folder: Path) -> str:
    """A PATH on which the package manager is found but neither sudo nor Xvfb is."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    (folder / "apt-get").symlink_to(shutil.which("apt-get"))
    return str(folder)


@pytest.mark.parametrize(
    ("command", "fails_to_import", "package"),
    [("app", "tkinter", "python3-tk"), ("app", "ensurepip", "python3-venv"), ("test", None, "xvfb")],
)
def test_a_missing_system_package_that_cannot_be_installed_stops_with_one_line_naming_the_command(
    project: Path, command: str, fails_to_import: str | None, package: str
) -> None:
    if shutil.which("apt-get") is None or not SYSTEM_PYTHON.exists():
        pytest.skip("the package names checked here are Debian's and Ubuntu's")
    env = {"PATH": path_without_sudo_or_xvfb(project / "bin"), "HOME": str(project), "LANG": "C.UTF-8"}
    if fails_to_import:
        env["PYTHONPATH"] = str(missing_module(project / "missing", fails_to_import))
    done = subprocess.run(
        unprivileged([str(SYSTEM_PYTHON), str(project / "scripts" / "setup.py"), command]),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 1, output
    assert len(output) == 1, output
    assert "missing: run sudo apt-get install " in output[0]
    assert package in output[0].split("apt-get install ", 1)[1].split()
    assert not (project / ".venv").exists(), "nothing is set up when a system package is missing"


def setup_only(project: Path, *env: tuple[str, str]) -> list[str]:
    done = subprocess.run(
        [BASE_PYTHON, str(project / "scripts" / "setup.py"), "--setup-only", "app"],
        env=dict(os.environ, **dict(env)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("setup: ")]


def test_a_second_run_installs_nothing_until_the_requirements_change(project: Path) -> None:
    first = setup_only(project)
    assert first == [
        "setup: creating .venv",
        "setup: installing requirements.txt into .venv (the first time takes minutes)",
    ]
    python = project / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    made = python.stat().st_mtime_ns

    assert setup_only(project) == ["setup: .venv is up to date"]
    assert python.stat().st_mtime_ns == made, "the venv is kept, not made again"

    with (project / "requirements.txt").open("a") as requirements:
        requirements.write("# a change\n")
    assert setup_only(project) == ["setup: installing requirements.txt into .venv (the first time takes minutes)"]
    assert setup_only(project) == ["setup: .venv is up to date"]


def test_a_broken_venv_is_made_again(project: Path) -> None:
    setup_only(project)
    python = project / ".venv" / "bin" / "python"
    python.unlink()
    python.symlink_to(project / "gone")  # as after the Python it was made from went away
    assert setup_only(project)[0] == "setup: creating .venv"


def test_the_app_on_a_python_without_tk_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(missing_module(tmp_path, "tkinter")))
    done = subprocess.run(
        [sys.executable, str(ROOT / "face_recognizer.py")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    output = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 1, output
    assert len(output) == 1, output
    assert output[0].startswith("Tk is missing")
    if shutil.which("apt-get") and Path(sys.base_prefix) == Path("/usr"):
        assert output[0].endswith("apt-get install python3-tk"), output
