"""Benchmark of the local Rekognition engine: per-face stages, end to end, search scaling.

Run from the repository's root:

    python bench/engine.py [--sizes 1000,10000,100000,1000000] [--repeat 3] [--json]

1. Per-face time of facerec.faces' stages (detect, align, describe) on 640x480
   frames made by letterboxing every photo of shared/faces/people.
2. LocalRekognition.search_faces_by_image on those frames as JPEG bytes, against
   the face_recognition library's default pipeline on the same bytes, in the
   same run, with a check that both found the same faces and people.
3. FaceStore.nearest on collections of 1k to 1M synthetic descriptors, each size
   in a fresh process so that its peak memory is that size's alone.

Progress goes to stderr; the report (or the JSON document) to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

try:
    import resource
except ImportError:  # Windows: no getrusage, peak memory is reported as n/a
    resource = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from facerec import descriptor, detector_choice  # noqa: E402
from facerec import faces as facelib  # noqa: E402
from facerec.boxes import PixelBox, RatioBox  # noqa: E402
from facerec.local.store import FaceStore, NewFace, StoredFace  # noqa: E402
from facerec.similarity import MATCH_DISTANCE  # noqa: E402  (what FaceMatchThreshold=80 stands for)
from tests.frames import FRAME_SIZE, css_box, iou, letterbox  # noqa: E402

JPEG_QUALITY = 90
DEFAULT_SIZES = "1000,10000,100000,1000000"
COLLECTION = "bench"
SEARCH_LIMIT = 80  # Rekognition's default MaxFaces
IOU_AGREE = 0.5
MIB = 1024 * 1024

# The targets the engine is built to meet (median times, memory of one process).
RATIO_TARGET = 0.25  # issue 11: Check face at most a quarter of face_recognition's pipeline
SEARCH_TARGETS_MS = {100_000: 5.0, 1_000_000: 50.0}
MEMORY_TARGET = {1_000_000: 1024 * MIB}
INSERT_TARGET_S = {1_000_000: 120.0}  # "well under a few minutes"


def progress(message: str) -> None:
    # stderr, so that stdout holds only the report or the JSON.
    print(message, file=sys.stderr, flush=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def median_ms(samples: list[float]) -> float:
    return ms(statistics.median(samples)) if samples else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# Frames


@dataclass(frozen=True)
class Frame:
    """One photo of shared/faces/people, letterboxed to 640x480."""

    name: str  # person/file
    person: str
    jpeg: bytes
    pixels: np.ndarray  # the JPEG decoded, so every part measures the same pixels


def faces_dir_default() -> Path:
    return Path(os.environ.get("FACEREC_FACES_DIR") or REPO.parent / "shared" / "faces")


def people_photos(faces_dir: Path) -> dict[str, list[Path]]:
    """Each person's photos (sorted), by identity label (the folder name)."""
    folder = faces_dir / "people"
    if not folder.is_dir():
        raise SystemExit(f"no photos at {folder}: pass --faces-dir or set FACEREC_FACES_DIR")
    return {p.name: sorted(x for x in p.iterdir() if x.is_file()) for p in sorted(folder.iterdir()) if p.is_dir()}


def make_frame(person: str, path: Path) -> Frame:
    # facelib.decode applies EXIF orientation; the frame's JPEG carries none, so both sides see one upright image.
    upright = facelib.decode(path.read_bytes()).pixels
    out = io.BytesIO()
    letterbox(upright).save(out, "JPEG", quality=JPEG_QUALITY)
    data = out.getvalue()
    return Frame(f"{person}/{path.name}", person, data, facelib.decode(data).pixels)


def make_frames(photos: dict[str, list[Path]]) -> list[Frame]:
    return [make_frame(person, path) for person, paths in photos.items() for path in paths]


# 1. Per-face stages


@dataclass
class StageSamples:
    decode: list[float] = field(default_factory=list)
    detect: list[float] = field(default_factory=list)
    align: list[float] = field(default_factory=list)
    describe: list[float] = field(default_factory=list)
    stages: list[float] = field(default_factory=list)
    find_faces: list[float] = field(default_factory=list)
    frames_without_face: int = 0


def time_stages(pixels: np.ndarray, m: facelib.Models) -> tuple[int, float, float, float]:
    """(faces, detect s, align s, describe s): find_faces' own steps, timed one by one."""
    t0 = time.perf_counter()
    found = detector_choice.detect(m, pixels)  # the engine's detection: the camera-frame path at 640x480
    t1 = time.perf_counter()
    shapes = [m.predictor(pixels, rect) for rect, _ in found]
    chips = [m.dlib.get_face_chip(pixels, s, descriptor.CHIP_SIZE, facelib.CHIP_PADDING) for s in shapes]
    t2 = time.perf_counter()
    if chips:
        facelib.describe_chips(chips, m)
    t3 = time.perf_counter()
    return len(found), t1 - t0, t2 - t1, t3 - t2


def time_find_faces(frame: Frame, m: facelib.Models) -> tuple[float, float]:
    """(decode s, find_faces s): the whole call, with what the stages leave out (pose, quality, sorting)."""
    t0 = time.perf_counter()
    picture = facelib.decode(frame.jpeg)
    t1 = time.perf_counter()
    facelib.find_faces(picture, m)
    return t1 - t0, time.perf_counter() - t1


def add_stage_sample(samples: StageSamples, frame: Frame, m: facelib.Models) -> None:
    count, detect, align, describe = time_stages(frame.pixels, m)
    decode, whole = time_find_faces(frame, m)
    if count == 0:
        samples.frames_without_face += 1
        return
    # Per face: a frame's time shared among its faces (one each in people/).
    samples.decode.append(decode / count)
    samples.detect.append(detect / count)
    samples.align.append(align / count)
    samples.describe.append(describe / count)
    samples.stages.append((detect + align + describe) / count)
    samples.find_faces.append(whole / count)


def bench_stages(frames: list[Frame], repeat: int, m: facelib.Models) -> dict[str, Any]:
    facelib.find_faces(facelib.decode(frames[0].jpeg), m)  # warm-up: sizes dlib's buffers
    samples = StageSamples()
    for _ in range(repeat):
        for frame in frames:
            add_stage_sample(samples, frame, m)
    result: dict[str, Any] = {
        name: median_ms(getattr(samples, name))
        for name in ("decode", "detect", "align", "describe", "stages", "find_faces")
    }
    result["samples"] = len(samples.stages)
    result["frames_without_face"] = samples.frames_without_face
    return result


# 2. End to end, against face_recognition


@dataclass
class TheirRun:
    """One pass of face_recognition's default pipeline over a frame's JPEG bytes."""

    total: float
    load: float
    locate: float
    encode: float
    compare: float
    boxes: list[PixelBox]
    distances: list[np.ndarray]  # per face, to each enrolled person


def our_engine(data_dir: Path, enrol: dict[str, Path], models: facelib.Models) -> Any:
    """A LocalRekognition with one collection: each person's first photo, labelled with the person."""
    from facerec.local.rekognition import LocalRekognition

    engine = LocalRekognition(data_dir, lambda: models)
    engine.create_collection(CollectionId=COLLECTION)
    for person, path in enrol.items():
        response = engine.index_faces(
            CollectionId=COLLECTION, Image={"Bytes": path.read_bytes()}, ExternalImageId=person
        )
        if len(response["FaceRecords"]) != 1:
            raise SystemExit(f"expected one indexed face in {path}, got {len(response['FaceRecords'])}")
    return engine


def their_known(fr: Any, enrol: dict[str, Path]) -> np.ndarray:
    """face_recognition's encodings of the same enrolment photos, in enrol's order."""
    rows = []
    for path in enrol.values():
        pixels = facelib.decode(path.read_bytes()).pixels  # the upright pixels our engine indexed
        encodings = fr.face_encodings(pixels, fr.face_locations(pixels))
        if len(encodings) != 1:
            raise SystemExit(f"face_recognition found {len(encodings)} faces in {path}, expected one")
        rows.append(encodings[0])
    return np.array(rows)


def run_ours(engine: Any, frame: Frame) -> tuple[float, dict | None]:
    """(seconds, response); the response is None when the engine found no face (an error, as in AWS)."""
    from botocore.exceptions import ClientError

    t0 = time.perf_counter()
    try:
        response = engine.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": frame.jpeg})
    except ClientError:
        response = None
    return time.perf_counter() - t0, response


def run_theirs(fr: Any, known: np.ndarray, frame: Frame) -> TheirRun:
    t0 = time.perf_counter()
    image = fr.load_image_file(io.BytesIO(frame.jpeg))  # decoding counts on their side too
    t1 = time.perf_counter()
    locations = fr.face_locations(image)
    t2 = time.perf_counter()
    encodings = fr.face_encodings(image, locations)
    t3 = time.perf_counter()
    distances = [fr.face_distance(known, encoding) for encoding in encodings]
    t4 = time.perf_counter()
    boxes = [css_box(c) for c in locations]
    return TheirRun(t4 - t0, t1 - t0, t2 - t1, t3 - t2, t4 - t3, boxes, distances)


def our_person(response: dict | None) -> str | None:
    if not response or not response["FaceMatches"]:
        return None
    return response["FaceMatches"][0]["Face"].get("ExternalImageId")


def their_person(run: TheirRun, names: list[str]) -> str | None:
    """The nearest enrolled person to their largest face, within the distance our threshold stands for."""
    if not run.boxes:
        return None
    largest = max(range(len(run.boxes)), key=lambda i: run.boxes[i].area)
    distances = run.distances[largest]
    best = int(np.argmin(distances))
    return names[best] if distances[best] <= MATCH_DISTANCE else None


def agreement(
    frame: Frame, response: dict | None, run: TheirRun, names: list[str], m: facelib.Models
) -> dict[str, Any]:
    # Our face count and boxes come from find_faces on the same bytes (untimed): the search reports one face only.
    ours = [f.box for f in facelib.find_faces(facelib.decode(frame.jpeg), m)]
    ious = [max((iou(a, b) for b in run.boxes), default=0.0) for a in ours]
    same_faces = len(ours) == len(run.boxes) and all(x >= IOU_AGREE for x in ious)
    mine, theirs = our_person(response), their_person(run, names)
    return {
        "frame": frame.name,
        "person": frame.person,
        "our_faces": len(ours),
        "their_faces": len(run.boxes),
        "min_iou": round(min(ious, default=0.0), 3),
        "same_faces": same_faces,
        "our_person": mine,
        "their_person": theirs,
        "same_person": mine == theirs,
    }


def timed_pass(
    engine: Any, fr: Any, known: np.ndarray, frame: Frame, ours_first: bool
) -> tuple[float, dict | None, TheirRun]:
    # Alternating who goes first spreads caches and other processes' load over both sides evenly.
    if ours_first:
        seconds, response = run_ours(engine, frame)
        run = run_theirs(fr, known, frame)
    else:
        run = run_theirs(fr, known, frame)
        seconds, response = run_ours(engine, frame)
    return seconds, response, run


def compare_pipelines(
    engine: Any, fr: Any, known: np.ndarray, names: list[str], frames: list[Frame], repeat: int
) -> dict[str, Any]:
    timed_pass(engine, fr, known, frames[0], True)  # warm-up of both sides, not counted
    ours: list[float] = []
    theirs: list[TheirRun] = []
    last: dict[str, tuple[dict | None, TheirRun]] = {}
    for r in range(repeat):
        for i, frame in enumerate(frames):
            seconds, response, run = timed_pass(engine, fr, known, frame, (i + r) % 2 == 0)
            ours.append(seconds)
            theirs.append(run)
            last[frame.name] = (response, run)
    checks = [agreement(frame, *last[frame.name], names, engine.models()) for frame in frames]
    return summarise_pipelines(ours, theirs, checks)


def summarise_pipelines(ours: list[float], theirs: list[TheirRun], checks: list[dict[str, Any]]) -> dict[str, Any]:
    ours_ms = median_ms(ours)
    theirs_ms = median_ms([t.total for t in theirs])
    ratio = round(ours_ms / theirs_ms, 3)
    return {
        "samples": len(ours),
        "ours_ms": ours_ms,
        "theirs_ms": theirs_ms,
        "theirs_split_ms": {
            part: median_ms([getattr(t, part) for t in theirs]) for part in ("load", "locate", "encode", "compare")
        },
        "ratio": ratio,
        "ratio_target": RATIO_TARGET,
        "ratio_pass": ratio <= RATIO_TARGET,
        "frames": len(checks),
        "same_faces": sum(c["same_faces"] for c in checks),
        "same_person": sum(c["same_person"] for c in checks),
        "ours_correct": sum(c["our_person"] == c["person"] for c in checks),
        "theirs_correct": sum(c["their_person"] == c["person"] for c in checks),
        "min_iou": min((c["min_iou"] for c in checks), default=0.0),
        "per_frame": checks,
    }


def bench_end_to_end(
    frames: list[Frame], photos: dict[str, list[Path]], repeat: int, tmp_root: str | None, models: facelib.Models
) -> dict[str, Any]:
    try:
        import face_recognition as fr
    except ImportError as exc:
        return {"skipped": f"face_recognition is not importable ({exc})"}
    enrol = {person: paths[0] for person, paths in photos.items()}
    with tempfile.TemporaryDirectory(prefix="facerec-bench-", dir=tmp_root) as tmp:
        engine = our_engine(Path(tmp), enrol, models)
        try:
            return compare_pipelines(engine, fr, their_known(fr, enrol), list(enrol), frames, repeat)
        finally:
            engine.store.close()


# 3. Search scaling (each size runs in a child process: see scaling_worker)


def peak_rss() -> int | None:
    """This process's peak resident memory in bytes.

    Linux's VmHWM comes first: ru_maxrss survives exec, so a worker started by
    this (large) benchmark process would report the parent's size as its peak.
    """
    high_water = proc_status_bytes("VmHWM")
    if high_water is not None or resource is None:
        return high_water
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # KiB on Linux, bytes on macOS


def current_rss() -> int | None:
    return proc_status_bytes("VmRSS")


def proc_status_bytes(key: str) -> int | None:
    """A memory figure of /proc/self/status (Linux only), in bytes."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024  # the kernel writes kB
    return None


def synthetic(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 128-d descriptors with norms spread as dlib's are (0.9 to 1.1)."""
    vectors = rng.standard_normal((n, descriptor.DESCRIPTOR_SIZE), dtype=np.float32)
    vectors *= (rng.uniform(0.9, 1.1, n) / np.linalg.norm(vectors, axis=1)).astype(np.float32)[:, None]
    return vectors


def new_faces(vectors: np.ndarray) -> list[NewFace]:
    return [
        NewFace(StoredFace(str(uuid.uuid4()), str(uuid.uuid4()), None, RatioBox(0.25, 0.2, 0.5, 0.6), 99.9), v)
        for v in vectors
    ]


def fill(store: FaceStore, size: int, batch: int, rng: np.random.Generator, probe_rows: np.ndarray) -> dict[str, Any]:
    """Add `size` synthetic faces through add_faces, one transaction per batch; keep the probe rows' vectors."""
    generate = insert = 0.0
    probes = []
    for start in range(0, size, batch):
        t0 = time.perf_counter()
        vectors = synthetic(rng, min(batch, size - start))
        faces = new_faces(vectors)
        t1 = time.perf_counter()
        store.add_faces(COLLECTION, faces)
        t2 = time.perf_counter()
        generate, insert = generate + t1 - t0, insert + t2 - t1
        picked = probe_rows[(probe_rows >= start) & (probe_rows < start + len(vectors))]
        probes.append(vectors[picked - start])
    return {"generate_s": generate, "insert_s": insert, "probes": np.concatenate(probes)}


def near_copies(rng: np.random.Generator, probes: np.ndarray, spread: float = 0.3) -> np.ndarray:
    """Queries about `spread` away from stored faces: each should find its own face (random ones are ~1.4 apart)."""
    noise = rng.standard_normal(probes.shape, dtype=np.float32) * np.float32(spread / np.sqrt(probes.shape[1]))
    return probes + noise


def time_searches(store: FaceStore, queries: np.ndarray, probes: np.ndarray) -> dict[str, Any]:
    t0 = time.perf_counter()
    store.nearest(COLLECTION, queries[0], MATCH_DISTANCE, SEARCH_LIMIT)  # first call loads the matrix from SQLite
    load = time.perf_counter() - t0
    times, found = [], 0
    for query, probe in zip(queries, probes, strict=True):
        t0 = time.perf_counter()
        hits = store.nearest(COLLECTION, query, MATCH_DISTANCE, SEARCH_LIMIT)
        times.append(time.perf_counter() - t0)
        # Right answer: the closest hit is the probe's own face, at the distance the noise put it.
        found += bool(hits) and abs(hits[0][1] - float(np.linalg.norm(query - probe))) < 1e-3
    return {"load_s": load, "times": times, "found": found}


def measure_size(store: FaceStore, folder: Path, size: int, queries: int, batch: int) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    store.create_collection(COLLECTION)
    probe_rows = np.sort(rng.choice(size, min(queries, size), replace=False))
    filled = fill(store, size, batch, rng, probe_rows)
    searched = time_searches(store, near_copies(rng, filled["probes"]), filled["probes"])
    return {
        "size": size,
        "generate_s": round(filled["generate_s"], 2),
        "insert_s": round(filled["insert_s"], 2),
        "load_s": round(searched["load_s"], 3),
        "queries": len(searched["times"]),
        "found": searched["found"],
        "median_ms": median_ms(searched["times"]),
        "p95_ms": ms(float(np.percentile(searched["times"], 95))),
        "matrix_bytes": store.matrix(COLLECTION).nbytes,
        "db_bytes": sum(p.stat().st_size for p in folder.iterdir()),
        "rss_after_bytes": current_rss(),
        "peak_rss_bytes": peak_rss(),
    }


def scaling_worker(size: int, queries: int, batch: int, tmp_root: str | None) -> dict[str, Any]:
    """One size in this (fresh) process, in a temporary data dir that is deleted afterwards."""
    rss_start = current_rss()
    folder = Path(tempfile.mkdtemp(prefix=f"facerec-bench-{size}-", dir=tmp_root))
    try:
        store = FaceStore(folder / "rekognition.sqlite3")
        try:
            return measure_size(store, folder, size, queries, batch) | {"rss_start_bytes": rss_start}
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def models_worker() -> dict[str, Any]:
    """What dlib's models add to a process: an engine process holds them next to its matrices."""
    from facerec.settings import load

    before = current_rss()
    facelib.Models(load().models)
    after = current_rss()
    return {"models_bytes": None if before is None or after is None else after - before}


def run_worker(args: list[str], blas_threads: int | None = None) -> dict[str, Any]:
    # A fresh process per size: a process's peak memory never goes down, so only a new one shows one size's peak.
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    env = dict(os.environ)
    if blas_threads:
        # Read by OpenBLAS (numpy's wheels), OpenMP and MKL builds when numpy loads, hence set before the start.
        env.update({name: str(blas_threads) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(done.stdout)


def bench_scaling(args: argparse.Namespace) -> dict[str, Any]:
    options = ["--queries", str(args.queries), "--batch", str(args.batch)]
    options += ["--tmp-dir", args.tmp_dir] if args.tmp_dir else []
    results = []
    for size in args.sizes:
        progress(f"  {size:,} faces")
        results.append(run_worker(["--scaling-worker", str(size), *options], args.blas_threads))
    return {"sizes": results, "blas_threads": args.blas_threads, **run_worker(["--models-worker"])}


# Targets


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with the figure it is judged on, for the sizes this run measured."""
    found = []
    e2e = results.get("end_to_end", {})
    if "ratio" in e2e:
        found.append(target("end to end: ours / face_recognition", e2e["ratio"], RATIO_TARGET, "x"))
    by_size = {r["size"]: r for r in results.get("scaling", {}).get("sizes", [])}
    for size, limit in SEARCH_TARGETS_MS.items():
        if size in by_size:
            found.append(target(f"search median, {size:,} faces", by_size[size]["median_ms"], limit, "ms"))
    for size, limit in MEMORY_TARGET.items():
        if size in by_size and by_size[size]["peak_rss_bytes"]:
            found.append(target(f"peak RSS, {size:,} faces", by_size[size]["peak_rss_bytes"] / MIB, limit / MIB, "MiB"))
    for size, limit in INSERT_TARGET_S.items():
        if size in by_size:
            found.append(target(f"insert, {size:,} faces", by_size[size]["insert_s"], limit, "s"))
    return found


def target(name: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    return {"name": name, "value": round(value, 3), "limit": limit, "unit": unit, "pass": value <= limit}


# Machine


def machine() -> dict[str, Any]:
    import dlib

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_bytes": total_memory(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "dlib": dlib.__version__,
        "dlib_blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
        "dlib_avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
        "pillow": Image.__version__,
        "face_recognition": package_version("face_recognition"),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def numpy_blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy, or a build without that section: the name is only informative
        return "unknown"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    # Other processes on a 2-core machine move these timings; the report shows how busy it was.
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# Report


def report(results: dict[str, Any]) -> str:
    return "\n".join(
        [
            *report_header(results),
            *report_stages(results["stages"]),
            *report_end_to_end(results["end_to_end"]),
            *report_scaling(results["scaling"]),
            *report_targets(results["targets"]),
            f"Full run: {results['elapsed_s']:.0f} s.",
        ]
    )


def report_header(results: dict[str, Any]) -> list[str]:
    m, f = results["machine"], results["frames"]
    memory = f", {m['memory_bytes'] / 2**30:.1f} GiB RAM" if m["memory_bytes"] else ""
    return [
        "facerec local engine benchmark",
        "==============================",
        f"machine    {m['cpus']} CPUs ({m['cpu']}){memory}; {m['platform']}; Python {m['python']}",
        f"libraries  numpy {m['numpy']} (BLAS: {m['numpy_blas']}); dlib {m['dlib']} (BLAS: {yes(m['dlib_blas'])},"
        f" AVX: {yes(m['dlib_avx'])}); Pillow {m['pillow']}; face_recognition {m['face_recognition'] or 'absent'}",
        f"load avg   {results['load_average_start']} at start, {results['load_average_end']} at end (1, 5, 15 min)",
        f"frames     {f['count']} photos of {f['people']} people in {f['folder']}, each letterboxed to"
        f" {FRAME_SIZE[0]}x{FRAME_SIZE[1]} and JPEG-encoded (quality {JPEG_QUALITY}) in memory",
        f"repeat     {results['repeat']} timed passes over the frames after one warm-up call; times are medians",
        "",
    ]


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def report_stages(s: dict[str, Any]) -> list[str]:
    rows = [
        ("decode JPEG (facelib.decode)", s["decode"]),
        ("detect (camera path: HOG on a grey 1.3x copy)", s["detect"]),
        ("align (5-point shape + 150px chip)", s["align"]),
        ("describe (ResNet descriptor)", s["describe"]),
        ("total: detect + align + describe", s["stages"]),
        ("find_faces, whole call (+ pose, quality)", s["find_faces"]),
    ]
    lines = [f"1. Per-face time on {FRAME_SIZE[0]}x{FRAME_SIZE[1]} frames ({s['samples']} samples, median)"]
    lines += [f"   {name:<42}{value:9.1f} ms" for name, value in rows]
    if s["frames_without_face"]:
        lines.append(f"   frames where no face was found (left out): {s['frames_without_face']}")
    return [*lines, ""]


def report_end_to_end(e: dict[str, Any]) -> list[str]:
    title = "2. End to end on the frames' JPEG bytes, decoding included (median per frame)"
    if "skipped" in e:
        return [title, f"   skipped: {e['skipped']}", ""]
    split = e["theirs_split_ms"]
    n = e["frames"]
    return [
        f"{title}, {e['samples']} samples per side",
        f"   ours    LocalRekognition.search_faces_by_image (6 people indexed)  {e['ours_ms']:8.1f} ms",
        f"   theirs  face_recognition's default pipeline                       {e['theirs_ms']:8.1f} ms",
        "           (load_image_file + face_locations (HOG, upsample 1) + face_encodings + face_distance:",
        f"            {split['load']:.1f} + {split['locate']:.1f} + {split['encode']:.1f} + {split['compare']:.2f} ms)",
        f"   ratio   ours / theirs = {e['ratio']:.2f}   target <= {e['ratio_target']:.2f}   {verdict(e['ratio_pass'])}",
        f"   agreement  same faces (count, IoU >= {IOU_AGREE}): {e['same_faces']}/{n} frames (lowest IoU"
        f" {e['min_iou']:.2f}); same nearest person: {e['same_person']}/{n}",
        f"              right person: ours {e['ours_correct']}/{n}, theirs {e['theirs_correct']}/{n}",
        *disagreements(e["per_frame"]),
        "",
    ]


def disagreements(checks: list[dict[str, Any]]) -> list[str]:
    return [
        f"              differs on {c['frame']}: faces {c['our_faces']} vs {c['their_faces']} (IoU {c['min_iou']}),"
        f" person {c['our_person']} vs {c['their_person']}"
        for c in checks
        if not (c["same_faces"] and c["same_person"])
    ]


def report_scaling(s: dict[str, Any]) -> list[str]:
    models = s.get("models_bytes")
    lines = [
        "3. Search scaling: FaceStore.nearest on synthetic descriptors (threshold 80 = distance 0.6, MaxFaces 80);",
        "   one fresh process per size; first call (matrix load from SQLite) reported apart;"
        f" BLAS threads: {s.get('blas_threads') or 'library default'}",
        f"   {'faces':>9} {'insert':>8} {'load':>7} {'median':>8} {'p95':>8} {'found':>6} {'matrix':>9}"
        f" {'peak RSS':>9} {'db file':>9}",
    ]
    lines += [scaling_row(r) for r in s["sizes"]]
    lines.append("   insert = add_faces, one transaction per batch (descriptor generation not counted);")
    lines.append("   found = queries whose nearest hit was the face they were made from")
    lines.append("   peak RSS = the worker's VmHWM (its ru_maxrss would start at this process's size: Linux keeps it")
    lines.append("   across exec)")
    if models:
        lines.append(f"   an engine process also holds dlib's models: about {models / MIB:.0f} MiB more")
    return [*lines, ""]


def scaling_row(r: dict[str, Any]) -> str:
    peak = f"{r['peak_rss_bytes'] / MIB:5.0f} MiB" if r["peak_rss_bytes"] else "      n/a"
    return (
        f"   {r['size']:>9,} {r['insert_s']:7.1f}s {r['load_s']:6.2f}s {r['median_ms']:6.2f}ms {r['p95_ms']:6.2f}ms"
        f" {r['found']:>3}/{r['queries']:<2} {r['matrix_bytes'] / MIB:5.0f} MiB {peak} {r['db_bytes'] / MIB:5.0f} MiB"
    )


def report_targets(found: list[dict[str, Any]]) -> list[str]:
    return ["Targets", *(target_row(t) for t in found), ""]


def target_row(t: dict[str, Any]) -> str:
    limit = f"{t['limit']:g} {t['unit']}"
    return f"   {t['name']:<36} {t['value']:>9.2f} {t['unit']:<4} target <= {limit:<9} {verdict(t['pass'])}"


# Command line


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_sizes(text: str) -> list[int]:
    return [positive_int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES), help=f"default {DEFAULT_SIZES}"
    )
    parser.add_argument("--repeat", type=positive_int, default=3, help="timed passes over the frames (default 3)")
    parser.add_argument("--queries", type=positive_int, default=50, help="searches per collection size (default 50)")
    parser.add_argument("--batch", type=positive_int, default=50_000, help="faces per add_faces call (default 50000)")
    parser.add_argument("--faces-dir", type=Path, default=None, help="default $FACEREC_FACES_DIR or ../shared/faces")
    parser.add_argument("--tmp-dir", default=None, help="where the temporary collections go (default: system temp)")
    parser.add_argument(
        "--blas-threads", type=positive_int, default=None, help="BLAS threads of the search workers (default: numpy's)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the report")
    # Internal: run one measurement in a fresh process and print its JSON.
    parser.add_argument("--scaling-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--models-worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    from facerec.settings import load

    started = time.perf_counter()
    photos = people_photos(args.faces_dir or faces_dir_default())
    results: dict[str, Any] = {"machine": machine(), "load_average_start": load_average(), "repeat": args.repeat}
    frames = make_frames(photos)
    results["frames"] = {
        "count": len(frames),
        "people": len(photos),
        "folder": str(args.faces_dir or faces_dir_default()),
    }
    progress("1/3 per-face stages")
    models = facelib.Models(load().models)
    results["stages"] = bench_stages(frames, args.repeat, models)
    progress("2/3 end to end, ours vs face_recognition")
    results["end_to_end"] = bench_end_to_end(frames, photos, args.repeat, args.tmp_dir, models)
    progress("3/3 search scaling")
    results["scaling"] = bench_scaling(args)
    results["targets"] = targets(results)
    results["load_average_end"] = load_average()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scaling_worker is not None:
        print(json.dumps(scaling_worker(args.scaling_worker, args.queries, args.batch, args.tmp_dir)))
        return 0
    if args.models_worker:
        print(json.dumps(models_worker()))
        return 0
    results = run_all(args)
    print(json.dumps(results, indent=2) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
