"""The mutation check of the core: mutmut mutates it, runs the core's tests on each mutant, lists the survivors.

    python scripts/mutation.py                      # every mutant of the modules pyproject.toml names
    python scripts/mutation.py 'facerec.bulk*'      # the mutants whose names match (mutmut's globs)

A survivor is a change to the code that no test noticed: a test to add, or a mutant that changes nothing a
caller can see (say why). mutmut works in mutants/, a copy of the tree; a second run only runs what changed.
mutmut comes with the development requirements (python3 scripts/setup.py test installs them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACES_DIR = ROOT.parent / "shared" / "faces"


def mutmut(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # The tests run in mutants/, where the photos beside the repository are not beside the copy.
    env.setdefault("FACEREC_FACES_DIR", str(FACES_DIR))
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args], cwd=ROOT, env=env, text=True, capture_output=capture, check=False
    )


def outcomes() -> dict[str, str]:
    """Every mutant's name and what became of it (killed, survived, no tests, timeout, ...)."""
    listed = mutmut("results", "--all", "true", capture=True).stdout
    found = {}
    for line in listed.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def main(patterns: list[str]) -> int:
    if mutmut("--version", capture=True).returncode != 0:
        print("mutmut is not installed: python3 scripts/setup.py test installs the development requirements")
        return 2
    mutmut("run", *patterns)
    found = outcomes()
    if patterns:
        from fnmatch import fnmatch

        found = {name: status for name, status in found.items() if any(fnmatch(name, p) for p in patterns)}
    counts = Counter(found.values())
    print("\nmutants:", ", ".join(f"{n} {status}" for status, n in counts.most_common()))
    survivors = sorted(name for name, status in found.items() if status not in ("killed", "caught by type check"))
    for name in survivors:
        print(f"\n== {name} ({found[name]})")
        print(mutmut("show", name, capture=True).stdout.rstrip())
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
