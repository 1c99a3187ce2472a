"""How a Rekognition user (several faces of one person) should be matched: nearest face or mean descriptor.

Run from the repository's root:

    python bench/user_matching.py

Leave-one-out on ../shared/faces: every photo of people/ and edge/ (edge/ is
Obama's) is a query in turn; each person's user is made of their other photos
(the query is never part of its own user). A user's distance to the query is
either the distance to the user's nearest face ("nearest") or to the mean of
the user's descriptors ("mean"). Reported for each rule: the largest distance
to the right user (genuine), the smallest to any other user (impostor), the
margin between them (larger separates better) and how many queries rank their
own user first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from facerec import faces  # noqa: E402
from facerec.local.rekognition import user_distances  # noqa: E402
from facerec.settings import load  # noqa: E402

FACES = Path(os.environ.get("FACEREC_FACES_DIR", ROOT.parent / "shared" / "faces"))


def photos() -> list[tuple[str, Path]]:
    found = [(p.name, f) for p in sorted((FACES / "people").iterdir()) for f in sorted(p.iterdir()) if f.is_file()]
    found += [("barack_obama", f) for f in sorted((FACES / "edge").iterdir()) if "partial" not in f.name]
    return found


def descriptor(path: Path, models: faces.Models) -> np.ndarray:
    return faces.find_faces(faces.decode(path.read_bytes()), models)[0].descriptor


def main() -> None:
    models = faces.Models(load().models)
    labelled = [(name, descriptor(path, models)) for name, path in photos()]
    names = sorted({name for name, _ in labelled})
    print(f"{len(labelled)} photos of {len(names)} people, leave-one-out", file=sys.stderr)
    for rule in ("nearest", "mean"):
        genuine, impostor, first = [], [], 0
        for index, (name, query) in enumerate(labelled):
            owners = [n for i, (n, _) in enumerate(labelled) if i != index]
            vectors = np.stack([d for i, (_, d) in enumerate(labelled) if i != index])
            distances = user_distances(owners, vectors, query, rule)
            if name not in distances:
                continue  # the only photo of its person: no user to find
            genuine.append(distances[name])
            impostor += [d for other, d in distances.items() if other != name]
            first += min(distances, key=distances.get) == name
        queries = len(genuine)
        print(
            f"{rule:8s} genuine max {max(genuine):.3f}  impostor min {min(impostor):.3f}  "
            f"margin {min(impostor) - max(genuine):+.3f}  mean genuine {np.mean(genuine):.3f}  "
            f"rank-1 {first}/{queries}"
        )


if __name__ == "__main__":
    main()
