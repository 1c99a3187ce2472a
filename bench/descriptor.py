"""Benchmark of the fast face descriptor (facerec/descriptor.py) against dlib-bin's.

Run from the repository's root:

    python bench/descriptor.py [--repeat 3] [--faces-dir ../shared/faces]

1. Agreement: the largest difference between the two descriptors of every face
   in shared/faces (people, groups, edge).
2. Per-face descriptor time, dlib-bin's ResNet against the same network under
   onnxruntime: one face at a time, and batches of 8 and 32 (medians).
3. Check face end to end: LocalRekognition.search_faces_by_image on 640x480 JPEG
   frames (every photo of shared/faces/people, letterboxed) with each person
   enrolled from their first photo, against the face_recognition library's
   default pipeline on the same bytes (face_locations: HOG, upsample 1;
   face_encodings; face_distance), in the same run, taking turns to go first.

Exits 0 when every target is met, 1 otherwise. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from facerec import descriptor, detector_choice  # noqa: E402
from facerec import faces as facelib  # noqa: E402
from facerec.settings import load  # noqa: E402
from facerec.similarity import MATCH_DISTANCE  # noqa: E402  (face_recognition's default tolerance too)
from tests.frames import letterbox  # noqa: E402

JPEG_QUALITY = 90
BATCH_SIZES = (1, 8, 32)
COLLECTION = "bench"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}

# Targets of issue 6.
SINGLE_FACE_TARGET_MS = 20.0
CHECK_RATIO_TARGET = 0.25
AGREEMENT_LIMIT = 1e-4


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


# Faces and frames


def face_chips(faces_dir: Path, m: facelib.Models) -> list[np.ndarray]:
    """The aligned chip of every face the engine finds in faces_dir, as find_faces makes them."""
    chips = []
    for path in sorted(p for p in faces_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        pixels = facelib.decode(path.read_bytes()).pixels
        for rect, _ in detector_choice.detect(m, pixels):
            shape = m.predictor(pixels, rect)
            chips.append(m.dlib.get_face_chip(pixels, shape, descriptor.CHIP_SIZE, facelib.CHIP_PADDING))
    return chips


def people_photos(faces_dir: Path) -> dict[str, list[Path]]:
    folder = faces_dir / "people"
    return {p.name: sorted(x for x in p.iterdir() if x.is_file()) for p in sorted(folder.iterdir()) if p.is_dir()}


def frame_jpeg(path: Path) -> bytes:
    """The upright photo scaled into a 640x480 frame on black bars, as a webcam would deliver it."""
    frame = letterbox(path.read_bytes())
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


# 1 and 2: the descriptor alone


@lru_cache(maxsize=1)
def dlib_resnet():
    import dlib

    return dlib.face_recognition_model_v1(facelib.model_file(facelib.RESNET))


def dlib_describe(chips: list[np.ndarray]) -> np.ndarray:
    vectors = dlib_resnet().compute_face_descriptor(chips)
    return np.array([np.asarray(v) for v in vectors], dtype=np.float32)


def per_face_ms(describe: Callable[[list[np.ndarray]], Any], chips: list[np.ndarray], size: int, repeat: int) -> float:
    """Median time per face of describing `size` chips in one call, over `repeat` passes through the chips."""
    samples = []
    for _ in range(repeat):
        for start in range(0, len(chips), size):
            batch = (chips[start:] + chips)[:size]  # wrap round so every batch is full
            t0 = time.perf_counter()
            describe(batch)
            samples.append((time.perf_counter() - t0) / size)
    return median_ms(samples)


def load_times(dat_path: str) -> tuple[float, float]:
    """(cold, warm) seconds of FastDescriptor.load: converting into an empty cache, then reusing it."""
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        descriptor.FastDescriptor.load(dat_path, folder)
        t1 = time.perf_counter()
        descriptor.FastDescriptor.load(dat_path, folder)
        return t1 - t0, time.perf_counter() - t1


# 3: Check face end to end


def our_engine(data_dir: Path, enrol: dict[str, Path], models: facelib.Models) -> Any:
    from facerec.local.rekognition import LocalRekognition

    engine = LocalRekognition(data_dir, lambda: models)
    engine.create_collection(CollectionId=COLLECTION)
    for person, path in enrol.items():
        engine.index_faces(CollectionId=COLLECTION, Image={"Bytes": path.read_bytes()}, ExternalImageId=person)
    return engine


def their_known(fr: Any, enrol: dict[str, Path]) -> np.ndarray:
    rows = []
    for path in enrol.values():
        pixels = facelib.decode(path.read_bytes()).pixels
        rows.append(fr.face_encodings(pixels, fr.face_locations(pixels))[0])
    return np.array(rows)


def run_ours(engine: Any, jpeg: bytes) -> tuple[float, str | None]:
    from botocore.exceptions import ClientError

    t0 = time.perf_counter()
    try:
        response = engine.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": jpeg})
    except ClientError:  # no face: an error, as on AWS
        return time.perf_counter() - t0, None
    seconds = time.perf_counter() - t0
    matches = response["FaceMatches"]
    return seconds, matches[0]["Face"].get("ExternalImageId") if matches else None


def run_theirs(fr: Any, known: np.ndarray, names: list[str], jpeg: bytes) -> tuple[float, str | None]:
    t0 = time.perf_counter()
    image = fr.load_image_file(io.BytesIO(jpeg))
    encodings = fr.face_encodings(image, fr.face_locations(image))
    distances = [fr.face_distance(known, e) for e in encodings]
    seconds = time.perf_counter() - t0
    if not distances:
        return seconds, None
    best = min(((d.min(), names[int(d.argmin())]) for d in distances), key=lambda x: x[0])
    return seconds, best[1] if best[0] <= MATCH_DISTANCE else None


def bench_check(faces_dir: Path, repeat: int, models: facelib.Models) -> dict[str, Any]:
    import face_recognition as fr

    photos = people_photos(faces_dir)
    enrol = {person: paths[0] for person, paths in photos.items()}
    frames = [(person, frame_jpeg(path)) for person, paths in photos.items() for path in paths]
    names = list(enrol)
    with tempfile.TemporaryDirectory() as folder:
        engine = our_engine(Path(folder), enrol, models)
        known = their_known(fr, enrol)
        run_ours(engine, frames[0][1]), run_theirs(fr, known, names, frames[0][1])  # warm-up
        ours, theirs, our_right, their_right = [], [], 0, 0
        for turn in range(repeat):
            for index, (person, jpeg) in enumerate(frames):
                # Taking turns to go first spreads caches and background load over both sides.
                if (turn + index) % 2:
                    (a, mine), (b, their) = run_ours(engine, jpeg), run_theirs(fr, known, names, jpeg)
                else:
                    (b, their), (a, mine) = run_theirs(fr, known, names, jpeg), run_ours(engine, jpeg)
                ours.append(a)
                theirs.append(b)
                our_right += mine == person
                their_right += their == person
    return {
        "frames": len(frames),
        "people": len(enrol),
        "ours_ms": median_ms(ours),
        "theirs_ms": median_ms(theirs),
        "our_right": our_right / repeat,
        "their_right": their_right / repeat,
    }


# Report


def machine_line(load_before: float) -> str:
    return (
        f"machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; "
        f"dlib-bin {version_of('dlib-bin')}, onnxruntime {version_of('onnxruntime')}, onnx {version_of('onnx')}, "
        f"face_recognition {version_of('face_recognition')}; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (other processes slow both sides)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the faces (default 3)")
    parser.add_argument(
        "--faces-dir",
        type=Path,
        default=Path(os.environ.get("FACEREC_FACES_DIR") or REPO.parent / "shared" / "faces"),
        help="the test photographs (default: FACEREC_FACES_DIR or ../shared/faces)",
    )
    args = parser.parse_args(argv)
    if not (args.faces_dir / "people").is_dir():
        raise SystemExit(f"no photos at {args.faces_dir / 'people'}: pass --faces-dir or set FACEREC_FACES_DIR")
    return args


def bench_descriptor(faces_dir: Path, repeat: int, m: facelib.Models) -> dict[str, Any]:
    """Conversion times, agreement, and per-face times at each batch size."""
    import face_recognition_models

    if m.fast is None:
        raise SystemExit("the fast descriptor did not load; see the warning above")
    cold, warm = load_times(face_recognition_models.face_recognition_model_location())
    chips = face_chips(faces_dir, m)
    progress(f"{len(chips)} faces; agreement ...")
    gap = float(np.abs(m.fast.describe(chips) - dlib_describe(chips)).max())
    rows = []
    for size in BATCH_SIZES:
        progress(f"descriptor, batches of {size} ...")
        m.fast.describe(chips[:size]), dlib_describe(chips[:size])  # warm-up at this size
        slow = per_face_ms(dlib_describe, chips, size, repeat)
        rows.append((size, slow, per_face_ms(m.fast.describe, chips, size, repeat)))
    return {"cold": cold, "warm": warm, "faces": len(chips), "gap": gap, "rows": rows}


def targets(desc: dict[str, Any], check: dict[str, Any]) -> list[tuple[str, bool]]:
    single_ms = desc["rows"][0][2]
    ratio = check["ours_ms"] / check["theirs_ms"]
    return [
        (
            f"descriptors agree: largest difference {desc['gap']:.1e} <= {AGREEMENT_LIMIT:.0e}",
            desc["gap"] <= AGREEMENT_LIMIT,
        ),
        (
            f"new path, one face: {single_ms:.1f} ms <= {SINGLE_FACE_TARGET_MS:.0f} ms",
            single_ms <= SINGLE_FACE_TARGET_MS,
        ),
        (
            f"check face: {ratio:.1%} of face_recognition's time <= {CHECK_RATIO_TARGET:.0%}",
            ratio <= CHECK_RATIO_TARGET,
        ),
    ]


def print_descriptor(desc: dict[str, Any]) -> None:
    print(
        f"model conversion: first load {desc['cold'] * 1000:.0f} ms (read .dat, build ONNX, cache, open session); "
        f"cached load {desc['warm'] * 1000:.0f} ms"
    )
    print(f"agreement: largest |difference| over {desc['faces']} faces x 128 components: {desc['gap']:.2e}")
    print()
    print("descriptor time, median ms per face")
    print(f"  {'faces per call':<16}{'dlib-bin':>10}{'onnxruntime':>14}{'speed-up':>10}")
    for size, slow, fast in desc["rows"]:
        print(f"  {size:<16}{slow:>10.1f}{fast:>14.1f}{slow / fast:>9.1f}x")


def print_check(check: dict[str, Any]) -> None:
    frames = check["frames"]
    print(f"check face end to end: {frames} frames of 640x480, {check['people']} people enrolled, median ms")
    print(
        f"  facerec LocalRekognition.search_faces_by_image   {check['ours_ms']:8.1f}"
        f"   right person {check['our_right']:.0f}/{frames}"
    )
    print(
        f"  face_recognition locations+encodings+distance    {check['theirs_ms']:8.1f}"
        f"   right person {check['their_right']:.0f}/{frames}"
    )
    print(f"  ratio {check['ours_ms'] / check['theirs_ms']:.1%}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    # The engine caches its converted model in the data folder: use a throwaway one, and the fast path.
    os.environ.setdefault("FACEREC_DATA_DIR", tempfile.mkdtemp(prefix="facerec-bench-"))
    os.environ.pop("FACEREC_DESCRIPTOR", None)
    progress("loading models, converting the ResNet ...")
    models = facelib.Models(load().models)
    desc = bench_descriptor(args.faces_dir, args.repeat, models)
    progress("check face end to end ...")
    check = bench_check(args.faces_dir, args.repeat, models)

    print("Fast face descriptor: dlib's ResNet under onnxruntime (facerec/descriptor.py)")
    print(machine_line(load_before))
    print(f"faces: {desc['faces']} in {args.faces_dir}; repeat {args.repeat}")
    print()
    print_descriptor(desc)
    print()
    print_check(check)
    print()
    print("targets")
    results = targets(desc, check)
    for text, ok in results:
        print(f"  {verdict(ok)}  {text}")
    passed = all(ok for _, ok in results)
    print(f"overall: {verdict(passed)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
