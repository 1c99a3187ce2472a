"""The layers hold: the desktop app and the service load without the local engine.

On the AWS back end the app must not load facerec.local (nor dlib with it): it would cost memory and
start-up time for an engine it never calls, and tie the app to the local back end's code.
"""

from __future__ import annotations

import ast
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


def gui_imports() -> dict[str, set[str]]:
    """Each module of facerec/gui/ and the modules of facerec/gui/ it imports anywhere in it (in a function, or
    under TYPE_CHECKING: a circle through those is still a circle to read)."""
    folder = ROOT / "facerec" / "gui"
    names = {path.stem for path in folder.glob("*.py")}
    graph = {}
    for name in names:
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        graph[name] = {m for node in ast.walk(tree) for m in gui_modules_of(node, names)} - {name}
    return graph


def gui_modules_of(node: ast.AST, names: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        dotted = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        # `from facerec.gui import app` names the module as an alias; `from .app import App` is relative.
        base = ".".join(filter(None, ["facerec.gui" if node.level else "", node.module or ""]))
        dotted = [base] + [f"{base}.{alias.name}" for alias in node.names]
    else:
        return set()
    return {d.split(".")[2] for d in dotted if d.startswith("facerec.gui.") and d.split(".")[2] in names}


def circle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports that comes back to where it started, or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return None
        for imported in sorted(graph[name]):
            found = visit(imported, path + [name])
            if found:
                return found
        done.add(name)
        return None

    return next((found for name in sorted(graph) if (found := visit(name, []))), None)


def test_the_modules_of_the_app_import_one_another_in_no_circle() -> None:
    graph = gui_imports()
    assert "window" in graph["add_face"] and "add_face" in graph["app"]  # the check sees imports in functions
    circle = circle_in(graph)
    assert circle is None, f"facerec/gui imports in a circle: {' -> '.join(circle)}"
