"""Bulk add: 100 photos enrolled with one worker and with one per core; photos a second and cores used.

    python bench/bulk_add.py [--photos 100] [--faces ../shared/faces]

Photos are the shared people's photos, mirrored and rescaled into 100 distinct
JPEGs of one person at a time; each run starts from an empty data folder.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def photos(faces: Path, count: int) -> list[tuple[str, bytes]]:
    from PIL import Image, ImageOps

    sources = sorted((faces / "people" / "barack_obama").iterdir())
    made = []
    for index in range(count):
        image = Image.open(sources[index % len(sources)]).convert("RGB")
        if (index // len(sources)) % 2:
            image = ImageOps.mirror(image)
        scale = 0.6 + 0.4 * ((index * 7) % 10) / 10
        image = image.resize((max(200, int(image.width * scale)), max(200, int(image.height * scale))))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        made.append((f"photo{index:03}.jpg", out.getvalue()))
    return made


def run(batch: list[tuple[str, bytes]], workers: int) -> tuple[float, float, int]:
    from facerec.bulk import add_photos
    from facerec.settings import load

    with tempfile.TemporaryDirectory() as data:
        settings = load(env_file=None, environ={"FACEREC_BACKEND": "local", "FACEREC_DATA_DIR": data})
        before = _cpu_seconds()
        start = time.monotonic()
        outcomes = add_photos(settings, "Barack Obama", batch, workers=workers)
        wall = time.monotonic() - start
        cpu = _cpu_seconds() - before
    added = sum(1 for o in outcomes if o.result and o.result.ok)
    return wall, cpu / wall, added


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    args = parser.parse_args()
    batch = photos(args.faces, args.photos)
    print(f"Bulk add of {len(batch)} photos on {os.cpu_count()} cores (local back end)")
    for workers in (1, os.cpu_count() or 1):
        wall, cores, added = run(batch, workers)
        print(
            f"  {workers} worker{'s' if workers > 1 else ' '}: {wall:6.1f} s, {len(batch) / wall:5.1f} photos/s, "
            f"{cores:.2f} cores busy on average, {added} added"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
