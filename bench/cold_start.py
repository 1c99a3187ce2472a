"""Benchmark of a cold start: one `check` in a fresh process, and the first IndexFaces of a fresh `serve`.

Run from the repository's root, after set-up (which converts the models into the user's cache folder):

    python bench/cold_start.py [--repeat 3] [--faces ../shared/faces]

1. Six people enrolled (each person's first photo under people/), then for every photo of 0.9-3.5 MP and one
   small photo: a cold `python -m facerec check PHOTO` against the face_recognition CLI on the same photo with
   the same six photos as its known folder (`face_recognition KNOWN PHOTO`, which encodes them on each run),
   pair by pair, in alternating order; the median of --repeat runs each, and their ratio.
2. `python -m facerec serve` on a fresh data folder (the models set up), then the first IndexFaces of a
   1 MP photo through boto3, timed from the request; then the round trip of a small request (ListFaces).

Progress goes to stderr; the report to stdout.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "faces"
PHOTO_MP = (0.9, 3.5)
SMALL_PHOTO = "groups/kit_and_rose.jpg"
SERVED_PHOTO = "people/rose_leslie/rose1.jpg"  # 1.0 MP
ROUND_TRIPS = 100
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def enrolled(faces: Path, work: Path) -> tuple[dict[str, str], Path]:
    """The environment of a data folder with six people enrolled, and face_recognition's folder of the same photos."""
    env = {**os.environ, "FACEREC_BACKEND": "local", "FACEREC_DATA_DIR": str(work / "data"), "PYTHONPATH": str(REPO)}
    known = work / "known"
    known.mkdir()
    for person in sorted((faces / "people").iterdir())[:6]:
        photo = sorted(person.iterdir())[0]
        subprocess.run(
            [sys.executable, "-m", "facerec", "add", person.name, str(photo)], env=env, check=True, capture_output=True
        )
        shutil.copy(photo, known / f"{person.name}{photo.suffix}")
    return env, known


def photos(faces: Path) -> list[Path]:
    found = []
    for path in sorted(faces.rglob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            with Image.open(path) as image:
                if PHOTO_MP[0] <= image.width * image.height / 1e6 <= PHOTO_MP[1]:
                    found.append(path)
    return [faces / SMALL_PHOTO, *found]


def bench_check(faces: Path, work: Path, repeat: int) -> None:
    env, known = enrolled(faces, work)
    ours_cmd = [sys.executable, "-m", "facerec", "check"]
    theirs_cmd = [shutil.which("face_recognition", path=str(Path(sys.executable).parent)) or "face_recognition"]
    print(f"{'photo':34} {'MP':>5} {'ours s':>7} {'f_r s':>7} {'ratio':>6}")
    ratios = []
    for photo in photos(faces):
        ours, theirs = [], []
        for i in range(repeat):
            pair = [(ours, [*ours_cmd, str(photo)]), (theirs, [*theirs_cmd, str(known), str(photo)])]
            for times, command in pair if i % 2 == 0 else reversed(pair):
                times.append(seconds(command, env))
        with Image.open(photo) as image:
            mp = image.width * image.height / 1e6
        ratio = statistics.median(ours) / statistics.median(theirs)
        ratios.append(ratio)
        name = str(photo.relative_to(faces))
        print(f"{name:34} {mp:5.2f} {statistics.median(ours):7.2f} {statistics.median(theirs):7.2f} {ratio:6.2f}")
    print(f"ratio: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}")


def bench_first_index(faces: Path, work: Path) -> None:
    import boto3

    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEREC_DATA")}
    env.update({"FACEREC_BACKEND": "local", "FACEREC_DATA_DIR": str(work / "served"), "PYTHONPATH": str(REPO)})
    env.update(CREDENTIALS, AWS_REGION="us-east-1")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "facerec", "serve", "--port", "0"], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        url = re.search(r"http://[\d.]+:\d+", server.stdout.readline()).group(0)
        up = time.perf_counter() - started
        client = boto3.client(
            "rekognition",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_collection(CollectionId="bench")
        start = time.perf_counter()
        indexed = client.index_faces(CollectionId="bench", Image={"Bytes": (faces / SERVED_PHOTO).read_bytes()})
        took = time.perf_counter() - start
        round_trips = []
        for _ in range(ROUND_TRIPS):
            start = time.perf_counter()
            client.list_faces(CollectionId="bench")
            round_trips.append(time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait()
    print(
        f"fresh serve: up in {up:.2f} s; first IndexFaces of {SERVED_PHOTO} (1.0 MP): {took:.2f} s, "
        f"{len(indexed['FaceRecords'])} face indexed; then a ListFaces round trip: "
        f"{statistics.median(round_trips) * 1000:.1f} ms (median of {ROUND_TRIPS})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--faces", type=Path, default=FACES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bench_check(args.faces, work, args.repeat)
        bench_first_index(args.faces, work)


if __name__ == "__main__":
    main()
