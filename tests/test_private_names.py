"""No module of facerec/ reaches into another module's private (_underscore) names: what modules share is public."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(path: Path, root: Path = ROOT) -> list[str]:
    """`from facerec.x import _y`, and `x._y` where x is a name imported from facerec in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("facerec"):
            found += [f"from {node.module} import {a.name}" for a in node.names if is_private(a.name)]
            modules |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("facerec")}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr) and isinstance(node.value, ast.Name):
            if node.value.id in modules:
                found.append(f"{node.value.id}.{node.attr}")
    return [f"{path.relative_to(root)}:{use}" for use in found]


def test_no_module_of_facerec_uses_another_modules_private_names() -> None:
    uses = [use for path in sorted((ROOT / "facerec").rglob("*.py")) for use in private_uses(path)]
    assert not uses, uses


def test_the_check_sees_a_private_import_and_a_private_attribute(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from facerec.x import _y, z\nfrom facerec import w\nimport os\nw._v\nz._u\nw.public\nos._exit\n")
    assert private_uses(sample, tmp_path) == ["sample.py:from facerec.x import _y", "sample.py:w._v", "sample.py:z._u"]
