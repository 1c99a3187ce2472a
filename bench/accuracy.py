"""Recognition accuracy of the engine on ../shared/faces at dlib's 0.6 rule.

Run from the repository's root:

    python bench/accuracy.py [--faces-dir ../shared/faces] [--code-root DIR]

Each photo of people/ and edge/ (edge/ shows Barack Obama) is read as the engine
reads a search image: facerec.faces.find_faces on the decoded bytes, largest face.
Then:

- pairs: every two photos; a pair is "same" when its descriptors are at most 0.6
  apart; errors are same-person pairs over 0.6 and different-person pairs within it;
- identification: each photo against all the others (leave one out): the nearest
  photo within 0.6 must show the same person.

--code-root imports facerec from another tree (say, an earlier commit unpacked with
`git archive`), so that the figures before and after a change come from one script.
Uses only find_faces, decode and distance, which every version has (find_faces given models loaded
from the settings where it takes them).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MATCH_DISTANCE = 0.6
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
EDGE_PERSON = "barack_obama"


def labelled_photos(faces_dir: Path) -> list[tuple[str, Path]]:
    found = [
        (p.parent.name, p) for p in sorted((faces_dir / "people").rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    found += [(EDGE_PERSON, p) for p in sorted((faces_dir / "edge").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    return found


def face_finder(facelib):
    """find_faces of the facerec imported: with models loaded from the settings, or alone in the versions
    that loaded their own (they have configured_models)."""
    if hasattr(facelib, "configured_models"):
        return facelib.find_faces
    from facerec.settings import load

    models = facelib.Models(load().models)
    return lambda picture: facelib.find_faces(picture, models)


def measure(faces_dir: Path) -> dict:
    from facerec import faces as facelib

    find_faces = face_finder(facelib)
    people, vectors, missing = [], [], []
    for person, path in labelled_photos(faces_dir):
        found = find_faces(facelib.decode(path.read_bytes()))
        if not found:
            missing.append(str(path.relative_to(faces_dir)))
            continue
        people.append(person)
        vectors.append(found[0].descriptor)
    same, different = [], []
    for i, j in itertools.combinations(range(len(people)), 2):
        d = facelib.distance(vectors[i], vectors[j])
        (same if people[i] == people[j] else different).append(d)
    correct = wrong = unknown = 0
    for i in range(len(people)):
        distances = [(facelib.distance(vectors[i], vectors[j]), people[j]) for j in range(len(people)) if j != i]
        d, who = min(distances)
        if d > MATCH_DISTANCE:
            unknown += 1
        elif who == people[i]:
            correct += 1
        else:
            wrong += 1
    return {
        "photos": len(people),
        "no_face": missing,
        "same_pairs": len(same),
        "same_over": sum(d > MATCH_DISTANCE for d in same),
        "max_same": max(same),
        "different_pairs": len(different),
        "different_within": sum(d <= MATCH_DISTANCE for d in different),
        "min_different": min(different),
        "identified": correct,
        "misidentified": wrong,
        "unknown": unknown,
    }


def report(r: dict) -> str:
    return "\n".join(
        [
            f"photos with a face: {r['photos']} (none found in: {', '.join(r['no_face']) or '-'})",
            f"same-person pairs over {MATCH_DISTANCE}: {r['same_over']}/{r['same_pairs']} "
            f"(largest {r['max_same']:.3f})",
            f"different-person pairs within {MATCH_DISTANCE}: {r['different_within']}/{r['different_pairs']} "
            f"(smallest {r['min_different']:.3f})",
            f"identification (leave one out): {r['identified']} right, {r['misidentified']} wrong, "
            f"{r['unknown']} unknown of {r['photos']}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_faces = Path(os.environ.get("FACEREC_FACES_DIR") or REPO.parent / "shared" / "faces")
    parser.add_argument("--faces-dir", type=Path, default=default_faces)
    parser.add_argument("--code-root", type=Path, default=REPO)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.code_root))
    result = measure(args.faces_dir)
    print(report(result))
    errors = result["same_over"] + result["different_within"] + result["misidentified"] + len(result["no_face"])
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
