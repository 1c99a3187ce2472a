"""The expression rules (facerec.expression) and the pose (facerec.pose) on the labelled faces of ../shared/faces.

Run from the repository's root:

    python bench/attributes.py [--faces-dir ../shared/faces]

Prints each labelled face's measures, the rules' answers against the labels
(tests/expression_labels.py), the errors per attribute, and the pose of every face
with the pose of its mirror image (yaw and roll should turn round, pitch stay).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facerec import faces as facelib  # noqa: E402
from facerec.expression import eye_opening, judged_expression, mouth_corner_lift, mouth_opening  # noqa: E402
from facerec.settings import load  # noqa: E402
from tests.expression_labels import LABELS  # noqa: E402

FIELDS = {"EyesOpen": "eyes_open", "MouthOpen": "mouth_open", "Smile": "smile"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("FACEREC_FACES_DIR", REPO.parent / "shared" / "faces"))
    parser.add_argument("--faces-dir", type=Path, default=default)
    faces_dir = parser.parse_args().faces_dir
    engine = facelib.Models(load().models)
    errors = {name: [0, 0] for name in FIELDS}
    print(f"{'face':44} {'eyes':>6} {'mouth':>6} {'lift':>6}  pose (yaw/pitch/roll), mirrored")
    for relative in sorted({photo for photo, _ in LABELS}):
        picture = facelib.decode((faces_dir / relative).read_bytes())
        faces = facelib.find_faces(picture, engine, describe=False)
        mirrored = _mirrored_poses(picture, engine)
        for rank, face in enumerate(faces):
            if (relative, rank) not in LABELS:
                continue
            labels, judged = LABELS[relative, rank], judged_expression(face.points)
            marks = ""
            for name, field in FIELDS.items():
                expected = getattr(labels, field)
                if expected is None:
                    continue
                errors[name][1] += 1
                if judged[name][0] is not expected:
                    errors[name][0] += 1
                    marks += f" {name} wrong"
            p = face.pose
            mirror = mirrored.get(rank)
            other = f"{mirror.yaw:6.1f}/{mirror.pitch:5.1f}/{mirror.roll:5.1f}" if mirror else "-"
            print(
                f"{relative + '#' + str(rank):44} {eye_opening(face.points):6.3f} {mouth_opening(face.points):6.3f}"
                f" {mouth_corner_lift(face.points):+6.3f}  {p.yaw:6.1f}/{p.pitch:5.1f}/{p.roll:5.1f}, {other}{marks}"
            )
    for name, (wrong, labelled) in errors.items():
        print(f"{name}: {wrong} wrong of {labelled} labelled faces")


def _mirrored_poses(picture: facelib.Picture, engine: facelib.Models) -> dict[int, facelib.Pose]:
    """The poses found in the mirror image, by the rank of the face they mirror (paired by size)."""
    mirror = facelib.Picture(np.ascontiguousarray(picture.pixels[:, ::-1]))
    return {rank: face.pose for rank, face in enumerate(facelib.find_faces(mirror, engine, describe=False))}


if __name__ == "__main__":
    main()
