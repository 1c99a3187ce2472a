"""Benchmark of the converted CNN face detector (facerec/detector.py) against dlib-bin's.

Run from the repository's root:

    python bench/detector.py [--reference-dir DIR] [--repeat 5] [--faces-dir ../shared/faces]

1. Agreement with dlib's own cnn_face_detection_model_v1(path)(image, 1) on every
   image of shared/faces at the size the engine searches it, on the group photos
   shrunk until their faces are about 45 px, on in-plane rotations of +-20 degrees,
   and on a 1.3 MP photo with three faces of 40-60 px: the same faces, boxes within
   2 px, scores within 1e-3. dlib takes tens of seconds an image, so its outputs are
   computed once and kept in DIR (JSON, keyed by a hash of the pixels), with the time
   each took; later runs read them (say --dlib-timing to time dlib again on the 1.3 MP photo).
2. Times: the converted detector on each image (one run; --repeat runs, median, on
   the 1.3 MP photo), beside dlib's, and LocalRekognition.detect_faces on the 1.3 MP
   photo (JPEG bytes), median of --repeat.

Exits 0 when every target is met, 1 otherwise. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from facerec import detector_choice  # noqa: E402
from facerec import faces as facelib  # noqa: E402
from facerec.detector import Detection, dlib_detect  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
SMALL_FACE_PX = 45  # "group photos shrunk until faces are 40-50 px"
ROTATIONS = (-20, 20)
PHOTO_PIXELS = 1_300_000  # the DetectFaces target's photo
PHOTO_FACES = "groups/obama_and_biden_2.jpg"
BOX_LIMIT_PX = 2
SCORE_LIMIT = 1e-3
DETECT_FACES_TARGET_S = 1.0
DEFAULT_REFERENCE_DIR = Path(platformdirs.user_cache_dir("facerec")) / "detector-reference"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Case:
    name: str
    pixels: np.ndarray  # what both detectors search (RGB uint8)


def faces_dir_default() -> Path:
    return Path(os.environ.get("FACEREC_FACES_DIR") or REPO.parent / "shared" / "faces")


def photos(faces_dir: Path) -> list[Path]:
    return sorted(p for p in faces_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def hog_face_width(pixels: np.ndarray) -> float:
    """The median width of the faces dlib's HOG detector finds (upsampled once), to choose a shrink."""
    import dlib

    rects = dlib.get_frontal_face_detector()(pixels, 1)
    return float(np.median([r.width() for r in rects]))


def resized(pixels: np.ndarray, scale: float) -> np.ndarray:
    image = Image.fromarray(pixels)
    return np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR))


def rotated(pixels: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).rotate(degrees, Image.BILINEAR, expand=True))


def small_faces(pixels: np.ndarray, face_px: float = SMALL_FACE_PX) -> np.ndarray:
    """The photo shrunk so that its faces are about face_px wide."""
    return resized(pixels, face_px / hog_face_width(pixels))


def photo_with_small_faces(pixels: np.ndarray, total_pixels: int = PHOTO_PIXELS) -> np.ndarray:
    """A photo of total_pixels (4:3) with the group shrunk to ~45 px faces in its middle.

    The rest is the same photo enlarged and blurred past recognition, so the
    surroundings look like a photograph, not a flat board, and hold no face.
    """
    width = round(math_sqrt(total_pixels * 4 / 3))
    height = round(total_pixels / width)
    background = Image.fromarray(pixels).resize((width, height), Image.BILINEAR).filter(ImageFilter.GaussianBlur(24))
    group = Image.fromarray(small_faces(pixels))
    background.paste(group, ((width - group.width) // 2, (height - group.height) // 2))
    return np.asarray(background)


def math_sqrt(x: float) -> float:
    return float(np.sqrt(x))


def cases(faces_dir: Path) -> list[Case]:
    """Every image the comparison runs on, as the detector sees it."""
    found = []
    for path in photos(faces_dir):
        pixels = facelib.decode(path.read_bytes()).pixels
        found.append(Case(str(path.relative_to(faces_dir)), detector_choice.detection_copy(pixels)[0]))
    for path in sorted((faces_dir / "groups").iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        name = str(path.relative_to(faces_dir))
        full = facelib.decode(path.read_bytes()).pixels
        small = small_faces(full)
        found.append(Case(f"small:{name}", small))
        for degrees in ROTATIONS:
            found.append(Case(f"rotated{degrees:+d}:{name}", detector_choice.detection_copy(rotated(full, degrees))[0]))
            found.append(Case(f"small,rotated{degrees:+d}:{name}", rotated(small, degrees)))
    photo = photo_with_small_faces(facelib.decode((faces_dir / PHOTO_FACES).read_bytes()).pixels)
    found.append(Case(f"1.3MP:{PHOTO_FACES}", photo))
    return found


# dlib's reference, cached


def pixels_key(pixels: np.ndarray, upsample: int) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(pixels).tobytes() + repr((pixels.shape, upsample)).encode())
    return digest.hexdigest()[:24]


def reference(case: Case, folder: Path, upsample: int = detector_choice.CNN_UPSAMPLE) -> dict:
    """dlib's detections of case (computing them once, ~30 s a megapixel) with the seconds that took."""
    path = folder / f"{pixels_key(case.pixels, upsample)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    progress(f"  dlib's CNN on {case.name} {case.pixels.shape[1]}x{case.pixels.shape[0]} (slow)...")
    seconds, found = time_dlib(case.pixels, upsample)
    record = {
        "name": case.name,
        "shape": list(case.pixels.shape),
        "upsample": upsample,
        "seconds": seconds,
        "load": os.getloadavg()[0],
        "detections": [[d.left, d.top, d.right, d.bottom, d.score] for d in found],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    return record


def time_dlib(pixels: np.ndarray, upsample: int) -> tuple[float, list[Detection]]:
    import dlib
    import face_recognition_models

    model = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())
    start = time.perf_counter()
    found = dlib_detect(model, pixels, upsample)
    return time.perf_counter() - start, found


# Comparison


def compare(ours: list[Detection], theirs: list[list[float]]) -> dict:
    """Pair each of dlib's boxes with our nearest; the worst box and score gaps of the pairs."""
    unmatched = list(ours)
    box_gap, score_gap, missing = 0.0, 0.0, 0
    for left, top, right, bottom, score in theirs:
        if not unmatched:
            missing += 1
            continue
        best = min(unmatched, key=lambda d: abs(d.left - left) + abs(d.top - top) + abs(d.right - right))
        gap = max(abs(best.left - left), abs(best.top - top), abs(best.right - right), abs(best.bottom - bottom))
        if gap > 20:
            missing += 1
            continue
        unmatched.remove(best)
        box_gap = max(box_gap, gap)
        score_gap = max(score_gap, abs(best.score - score))
    extra = len(unmatched)
    ok = missing == 0 and extra == 0 and box_gap <= BOX_LIMIT_PX and score_gap <= SCORE_LIMIT
    return {"missing": missing, "extra": extra, "box_gap": box_gap, "score_gap": score_gap, "ok": ok}


def time_ours(pixels: np.ndarray, repeat: int, m: facelib.Models) -> tuple[float, list[Detection]]:
    found: list[Detection] = []
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        found = detector_choice.cnn_detect(m, pixels)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), found


def bench_agreement(all_cases: list[Case], folder: Path, repeat: int, m: facelib.Models) -> list[dict]:
    rows = []
    for case in all_cases:
        ref = reference(case, folder)
        seconds, ours = time_ours(case.pixels, repeat if case.name.startswith("1.3MP:") else 1, m)
        rows.append(
            {
                "name": case.name,
                "size": f"{case.pixels.shape[1]}x{case.pixels.shape[0]}",
                "faces": len(ref["detections"]),
                "widths": sorted(round(d[2] - d[0] + 1) for d in ref["detections"]),
                "ours_s": seconds,
                "dlib_s": ref["seconds"],
                **compare(ours, ref["detections"]),
            }
        )
        r = rows[-1]
        progress(f"  {r['name']}: {r['faces']} faces, {'same' if r['ok'] else 'DIFFERENT'}, {seconds:.2f} s")
    return rows


def bench_detect_faces(photo: np.ndarray, repeat: int, m: facelib.Models) -> dict:
    from facerec.local.rekognition import LocalRekognition

    out = io.BytesIO()
    Image.fromarray(photo).save(out, "JPEG", quality=92)
    data = out.getvalue()
    with tempfile.TemporaryDirectory() as folder:
        engine = LocalRekognition(Path(folder), lambda: m)
        response = engine.detect_faces(Image={"Bytes": data})  # warm-up
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = engine.detect_faces(Image={"Bytes": data})
            samples.append(time.perf_counter() - start)
    width, height = photo.shape[1], photo.shape[0]
    widths = sorted(round(f["BoundingBox"]["Width"] * width) for f in response["FaceDetails"])
    return {"size": f"{width}x{height}", "faces": len(widths), "widths": widths, "median_s": statistics.median(samples)}


def verdict_cell(row: dict) -> str:
    return "yes" if row["ok"] else f"NO (missing {row['missing']}, extra {row['extra']})"


def report(rows: list[dict], detect: dict, dlib_photo_s: float) -> tuple[str, bool]:
    lines = [
        f"load average {os.getloadavg()[0]:.2f} (2 cores shared; figures are medians)",
        "",
        "| image (as searched) | size | faces (widths px) | same as dlib | box / score gap | ours | dlib-bin |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['size']} | {r['faces']} ({', '.join(map(str, r['widths']))}) | "
            f"{verdict_cell(r)} | "
            f"{r['box_gap']:.0f} px / {r['score_gap']:.1e} | {r['ours_s']:.2f} s | {r['dlib_s']:.1f} s |"
        )
    same = all(r["ok"] for r in rows)
    fast_enough = detect["median_s"] <= DETECT_FACES_TARGET_S
    lines += [
        "",
        f"detections equal to dlib's on {sum(r['ok'] for r in rows)}/{len(rows)} images "
        f"(boxes within {BOX_LIMIT_PX} px, scores within {SCORE_LIMIT:g}): {'PASS' if same else 'FAIL'}",
        f"DetectFaces on the {detect['size']} photo: {detect['faces']} faces ({detect['widths']} px), "
        f"{detect['median_s']:.2f} s median (dlib-bin's CNN alone: {dlib_photo_s:.1f} s); "
        f"target {DETECT_FACES_TARGET_S:.1f} s: {'PASS' if fast_enough else 'FAIL'}",
    ]
    return "\n".join(lines), same and fast_enough


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces-dir", type=Path, default=faces_dir_default())
    parser.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE_DIR)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="", help="run only the images whose name contains this")
    parser.add_argument("--dlib-timing", action="store_true", help="time dlib again on the 1.3 MP photo")
    parser.add_argument("--reference-only", action="store_true", help="only compute dlib's missing references")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress("making the images...")
    all_cases = [c for c in cases(args.faces_dir) if args.only in c.name]
    if args.reference_only:
        for case in sorted(all_cases, key=lambda c: c.pixels.size):
            reference(case, args.reference_dir)
        return 0
    upsample = detector_choice.CNN_UPSAMPLE
    progress(f"{len(all_cases)} images; comparing with dlib's CNN detector (upsampled {upsample} time)")
    from facerec.settings import load

    models = facelib.Models(load().models)
    rows = bench_agreement(all_cases, args.reference_dir, args.repeat, models)
    photo = next(c for c in cases(args.faces_dir) if c.name.startswith("1.3MP:"))
    dlib_photo_s = reference(photo, args.reference_dir)["seconds"]
    if args.dlib_timing:
        dlib_photo_s = time_dlib(photo.pixels, detector_choice.CNN_UPSAMPLE)[0]
    progress("DetectFaces on the 1.3 MP photo...")
    detect = bench_detect_faces(photo.pixels, args.repeat, models)
    text, ok = report(rows, detect, dlib_photo_s)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
