"""`python -m facerec`: the engine and the pipeline from a terminal."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

DEFAULT_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facerec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="enrol people from a folder of photos and recognise the rest")
    demo.add_argument(
        "faces", nargs="?", type=Path, default=DEFAULT_FACES, help="a folder with people/<name>/*.jpg (and groups/)"
    )
    args = parser.parse_args(argv)
    try:
        return run_demo(args.faces)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


class UserError(Exception):
    """Something the user can fix; printed as one line."""


def run_demo(faces: Path) -> int:
    """Enrol each person's first photo in a throwaway collection, then name every other photo."""
    from facerec.local.rekognition import LocalRekognition

    people = faces / "people"
    if not people.is_dir():
        raise UserError(f"no folder of people at {people} (expected people/<name>/<photo>.jpg)")
    with tempfile.TemporaryDirectory(prefix="facerec-demo-") as data:
        engine = LocalRekognition(Path(data))
        engine.create_collection(CollectionId="demo")
        probes: list[Path] = []
        for person in sorted(p for p in people.iterdir() if p.is_dir()):
            photos = _images(person)
            if not photos:
                continue
            result = engine.index_faces(
                CollectionId="demo", Image={"Bytes": photos[0].read_bytes()}, ExternalImageId=person.name
            )
            print(f"enrolled {person.name:<20} from {photos[0].name} ({len(result['FaceRecords'])} face)")
            probes += photos[1:]
        probes += _images(faces / "groups")
        for probe in probes:
            print(f"{probe.relative_to(faces)!s:<42} -> {_name(engine, probe)}")
    return 0


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _name(engine, probe: Path) -> str:
    try:
        result = engine.search_faces_by_image(CollectionId="demo", Image={"Bytes": probe.read_bytes()})
    except ClientError as exc:
        return f"({exc.response['Error']['Message']})"
    if not result["FaceMatches"]:
        return "unknown"
    best = result["FaceMatches"][0]
    return f"{best['Face']['ExternalImageId']} (similarity {best['Similarity']:.1f})"
