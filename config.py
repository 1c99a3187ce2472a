"""The project's settings, from the environment or `.env`: `python config.py` prints them.

The provisioning scripts read the names from here (`eval "$(python config.py --shell)"`).
"""

from __future__ import annotations

import shlex
import sys

from facerec.settings import Settings, SettingsError, load

__all__ = ["Settings", "SettingsError", "load"]


def main(argv: list[str]) -> int:
    try:
        settings = load()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, value in settings.as_environment().items():
        print(f"{name}={shlex.quote(value)}" if "--shell" in argv else f"{name} = {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
