"""The layers hold: the desktop app and the service load without the local engine.

On the AWS back end the app must not load facerec.local (nor dlib with it): it would cost memory and
start-up time for an engine it never calls, and tie the app to the local back end's code.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

# Every module of facerec/gui/ and the service, imported in a fresh interpreter; then what got loaded.
IMPORT_ALL = """
import importlib, pkgutil, sys
import facerec.gui, facerec.service
for info in pkgutil.iter_modules(facerec.gui.__path__):
    importlib.import_module("facerec.gui." + info.name)
print("\\n".join(sorted(sys.modules)))
"""


def loaded_by_app_and_service() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


def test_the_app_and_the_service_load_no_local_engine() -> None:
    loaded = loaded_by_app_and_service()
    assert "facerec.gui.hints" in loaded and "facerec.service" in loaded  # the check saw them load
    reached = sorted(m for m in loaded if m.startswith("facerec.local") or m == "dlib")
    assert not reached, f"importing the app and the service loads {reached}"
