"""The converted CNN face detector (facerec.detector) against dlib's own, and how the engine finds faces.

dlib-bin's CNN detector takes some 30 s a megapixel with one upsampling, so the
comparisons with it here run on a few small images only; bench/detector.py runs
them on every photo of ../shared/faces and on shrunk and rotated copies.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facerec import detector, detector_choice
from facerec import faces as facelib
from facerec.detector import Detection, FastDetector, best_detector, dlib_detect
from facerec.dlib_format import ModelFileError
from facerec.onnx_graph import GraphBuilder
from facerec.quality import QUALITY_BARS
from facerec.settings import load
from tests.frames import letterbox

FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "faces"))
BOX_LIMIT_PX = 2
SCORE_LIMIT = 1e-3


def dat_path() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.cnn_face_detector_model_location())


def pixels_of(relative: str) -> np.ndarray:
    return facelib.decode((FACES_DIR / relative).read_bytes()).pixels


def shrunk(pixels: np.ndarray, width: int) -> np.ndarray:
    image = Image.fromarray(pixels)
    return np.asarray(image.resize((width, round(image.height * width / image.width)), Image.BILINEAR))


def rotated(pixels: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).rotate(degrees, Image.BILINEAR, expand=True))


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> FastDetector:
    return FastDetector.load(dat_path(), tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def dlib_cnn():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(dat_path()))


@pytest.fixture(scope="module")
def engine(loaded_models) -> facelib.Models:
    return loaded_models


# Small images: dlib's slow path takes a few seconds each at this size.
SMALL_CASES = {
    "320x240 portrait": lambda: pixels_of("people/barack_obama/obama_320x240.jpg"),
    "two small faces": lambda: shrunk(pixels_of("groups/kit_and_rose.jpg"), 240),
    "three faces of ~45 px, turned 20 degrees": lambda: rotated(
        shrunk(pixels_of("groups/obama_and_biden_2.jpg"), 480), 20
    ),
}


def assert_same(ours: list[Detection], theirs: list[Detection]) -> None:
    assert len(ours) == len(theirs), (ours, theirs)
    for a, b in zip(sorted(ours, key=lambda d: d.left), sorted(theirs, key=lambda d: d.left), strict=True):
        gap = max(abs(a.left - b.left), abs(a.top - b.top), abs(a.right - b.right), abs(a.bottom - b.bottom))
        assert gap <= BOX_LIMIT_PX, (a, b)
        assert abs(a.score - b.score) <= SCORE_LIMIT, (a, b)


@pytest.mark.parametrize("case", sorted(SMALL_CASES))
def test_detections_equal_dlibs_with_one_upsampling(case: str, fast: FastDetector, dlib_cnn) -> None:
    pixels = SMALL_CASES[case]()
    theirs = dlib_detect(dlib_cnn, pixels, 1)
    assert theirs, "the case must hold faces for the comparison to mean something"
    assert_same(fast.detect(pixels, 1), theirs)


def test_detections_equal_dlibs_without_upsampling(fast: FastDetector, dlib_cnn) -> None:
    pixels = shrunk(pixels_of("groups/obama_and_biden_1.jpg"), 640)
    theirs = dlib_detect(dlib_cnn, pixels, 0)
    assert len(theirs) == 2
    assert_same(fast.detect(pixels, 0), theirs)


def test_pyramid_levels_are_dlibs_bilinear_resize(fast: FastDetector) -> None:
    """Each level is dlib's resize_image of the one before (the detector's input, level by level)."""
    import dlib

    pixels = shrunk(pixels_of("groups/kit_and_rose.jpg"), 200)
    levels = fast.level_arrays(pixels, fast.pyramid(*pixels.shape[:2], 0))
    mean = fast.detector.mean.reshape(3, 1, 1)
    expected0 = (pixels.transpose(2, 0, 1).astype(np.float32) - mean) / 256
    assert np.abs(levels[0][0] - expected0).max() < 1e-6
    assert len(levels) > 5
    for before, level in zip(levels[:-1], levels[1:], strict=False):
        rows, cols = level.shape[2:]
        expected = np.stack([dlib.resize_image(np.ascontiguousarray(ch), rows, cols) for ch in before[0]])
        assert np.abs(level[0] - expected).max() < 1e-3


def test_upsampling_is_dlibs_pyramid_up(fast: FastDetector) -> None:
    import dlib

    pixels = shrunk(pixels_of("groups/kit_and_rose.jpg"), 150)
    rows, cols = pixels.shape[:2]
    up = dlib.pyramid_down(2).rect_up(dlib.rectangle(0, 0, cols - 1, rows - 1))
    assert detector.upsampled_size(rows, cols) == (up.bottom() + 1, up.right() + 1)
    level0 = fast.level_arrays(pixels, fast.pyramid(rows, cols, 1))[0][0]
    theirs = dlib.resize_image(pixels, up.bottom() + 1, up.right() + 1).transpose(2, 0, 1).astype(np.float32)
    ours = level0 * 256 + fast.detector.mean.reshape(3, 1, 1)
    gap = np.abs(ours - theirs)
    # float32 rounding puts a value on the other side of a whole number now and then
    assert gap.max() < 1.01 and (gap > 0.01).mean() < 0.01


def whole_canvas_scores(fast: FastDetector, pixels: np.ndarray, upsample: int = 1) -> np.ndarray:
    graph = fast.pyramid(*pixels.shape[:2], upsample)
    return fast.scores(graph.tiled(fast.level_arrays(pixels, graph)))


def test_scores_computed_in_bands_equal_the_whole_images(monkeypatch: pytest.MonkeyPatch, fast: FastDetector) -> None:
    """Each band reruns the rows its edge rows read, so cutting the tiled pyramid changes no score."""
    pixels = SMALL_CASES["three faces of ~45 px, turned 20 degrees"]()
    graph = fast.pyramid(*pixels.shape[:2], 1)
    whole = whole_canvas_scores(fast, pixels)
    monkeypatch.setattr(detector, "BAND_ROWS", 256)
    assert len(detector.bands(graph.rows, detector.BAND_ROWS)) > 5
    banded = fast.banded_scores(graph, fast.level_arrays(pixels, graph))
    assert banded.shape == whole.shape
    assert np.abs(banded - whole).max() < 1e-5


def test_the_score_head_equals_a_9x9_convolution(fast: FastDetector) -> None:
    """The head runs as 81 one-tap maps summed; the sum must be the 9x9 convolution dlib computes."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    head = fast.detector.ops[-1]
    features = np.random.default_rng(7).normal(size=(1, head.weights.shape[1], 23, 31)).astype(np.float32)

    def run(build) -> np.ndarray:
        g = GraphBuilder()
        build(g)
        infos = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None] * 4) for name in ("x", "y")]
        model = g.model("head", infos[:1], infos[1:])
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(["y"], {"x": features})[0]

    def plain(g: GraphBuilder) -> None:
        weights, bias = g.constant(head.weights, "w"), g.constant(head.bias, "b")
        g.node("Conv", ["x", weights, bias], "y", kernel_shape=[9, 9], pads=[4, 4, 4, 4])

    ours = run(lambda g: detector._head(g, head, "x", "y"))
    assert np.abs(ours - run(plain)).max() < 1e-4


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# Run in a process of its own: in the suite's worker, memory freed by earlier tests but still resident is
# reused by the photo's working memory, which then does not show in the resident size.
MEMORY_PROBE = """
import json, sys, time
from pathlib import Path
from facerec import detector
from tests.test_detector import dat_path, resident_mb, small_faces_photo

detector.IDLE_RELEASE_S = 0.5
fresh = detector.FastDetector.load(dat_path(), Path(sys.argv[1]))
photo = small_faces_photo()
before = resident_mb()
found = [len(fresh.detect(photo, 1))]
held = resident_mb()
found.append(len(fresh.detect(photo, 1)))
time.sleep(1.5)
print(json.dumps({"before": before, "held": held, "idle": resident_mb(), "found": found}))
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc")
def test_the_memory_a_photo_took_is_given_back_when_idle(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    root = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "FACEREC_FACES_DIR": str(FACES_DIR)}
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "models")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    mb = json.loads(probe.stdout.strip().splitlines()[-1])
    assert mb["found"] == [3, 3]  # the warm path finds the same
    assert mb["held"] - mb["before"] > 200, "the arenas should hold the photo's working memory while busy"
    assert mb["idle"] - mb["before"] < (mb["held"] - mb["before"]) / 4


def test_the_converted_model_is_cached_owner_only_and_reused(tmp_path: Path) -> None:
    first = FastDetector.load(dat_path(), tmp_path / "models")
    assert first.model_path.parent == tmp_path / "models"
    assert stat.S_IMODE(first.model_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.model_path.parent.stat().st_mode) == 0o700
    written = first.model_path.stat().st_mtime_ns
    second = FastDetector.load(dat_path(), tmp_path / "models")
    assert second.model_path == first.model_path and second.model_path.stat().st_mtime_ns == written


def test_a_damaged_model_file_is_refused_naming_it(tmp_path: Path) -> None:
    damaged = tmp_path / "mmod_human_face_detector.dat"
    damaged.write_bytes(dat_path().read_bytes()[:300_000])
    with pytest.raises(ModelFileError, match="mmod_human_face_detector.dat"):
        FastDetector.load(damaged, tmp_path / "models")
    with pytest.warns(RuntimeWarning, match=str(damaged)):
        assert best_detector(damaged, tmp_path / "models") is None
    assert not list((tmp_path / "models").glob("*.onnx"))


def test_the_engine_runs_dlibs_detector_when_the_settings_say_so(tmp_path: Path, fast: FastDetector) -> None:
    settings = load(env_file=None, environ={"FACEREC_DETECTOR": "dlib", "FACEREC_MODEL_DIR": str(tmp_path)})
    m = facelib.Models(settings.models)
    assert m.cnn is None and m.dlib_cnn is not None
    assert not list(tmp_path.glob("dlib_mmod*"))  # nothing converted that is not used
    pixels = SMALL_CASES["two small faces"]()
    assert_same(detector_choice.cnn_detect(m, pixels), fast.detect(pixels, detector_choice.CNN_UPSAMPLE))


# The engine


@pytest.mark.parametrize(
    "name, count", [("kit_and_rose.jpg", 2), ("obama_and_biden_1.jpg", 2), ("obama_and_biden_2.jpg", 3)]
)
def test_group_photos_at_webcam_size_find_every_face(engine: facelib.Models, name: str, count: int) -> None:
    frame = np.asarray(letterbox(pixels_of(f"groups/{name}")))
    assert detector_choice.is_live_frame(frame.shape[1], frame.shape[0])
    found = facelib.find_faces(facelib.Picture(frame), engine, describe=False)
    assert len(found) == count, [f.box for f in found]


def small_faces_photo(turned: bool = False, blur: float = 0.0) -> np.ndarray:
    """A 1.3 MP photo with obama_and_biden_2's three faces at 40-60 px, on a blurred enlargement of it.

    turned: the group turned 20 degrees in plane and squeezed to 80% of its width, a
    stand-in for faces turned away (the shared photos hold no real half-profiles).
    """
    full = pixels_of("groups/obama_and_biden_2.jpg")
    group = Image.fromarray(shrunk(full, 540))  # faces of 42-60 px
    if turned:
        group = group.resize((round(group.width * 0.8), group.height), Image.BILINEAR)
        group = group.rotate(20, Image.BILINEAR, expand=True)
    if blur:
        group = group.filter(ImageFilter.GaussianBlur(blur))
    photo = Image.fromarray(full).resize((1317, 987), Image.BILINEAR).filter(ImageFilter.GaussianBlur(24))
    photo.paste(group, ((photo.width - group.width) // 2, (photo.height - group.height) // 2))
    return np.asarray(photo)


def jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92)
    return out.getvalue()


def test_a_photo_with_three_small_turned_faces_indexes_three(tmp_path: Path, engine_models) -> None:
    from facerec.local.rekognition import LocalRekognition

    rekognition = LocalRekognition(tmp_path, engine_models)
    rekognition.create_collection(CollectionId="family")
    photo = small_faces_photo(turned=True)
    result = rekognition.index_faces(CollectionId="family", Image={"Bytes": jpeg(photo)})
    assert len(result["FaceRecords"]) == 3, result["UnindexedFaces"]
    widths = [r["FaceDetail"]["BoundingBox"]["Width"] * photo.shape[1] for r in result["FaceRecords"]]
    assert all(30 <= w <= 65 for w in widths), widths


def test_small_sharp_faces_are_small_not_blurry(engine: facelib.Models) -> None:
    bar = QUALITY_BARS["AUTO"]
    sharp = facelib.find_faces(facelib.Picture(small_faces_photo()), engine)
    assert len(sharp) == 3
    assert all(f.sharpness >= bar.min_sharpness for f in sharp), [f.sharpness for f in sharp]
    soft = facelib.find_faces(facelib.Picture(small_faces_photo(blur=2.0)), engine)  # ~sigma 9 on a 200 px face
    assert soft and all(f.sharpness < bar.min_sharpness for f in soft), [f.sharpness for f in soft]


def test_larger_photos_are_searched_at_1920x1080s_pixel_count(engine: facelib.Models) -> None:
    """As Rekognition: 40 px faces in 1920x1080, proportionally larger ones in larger photos (here 2x: 80 px)."""
    group = Image.fromarray(shrunk(pixels_of("groups/obama_and_biden_2.jpg"), 540))  # faces of 42-60 px
    for factor, expected in ((1, 0), (2, 3)):
        photo = Image.new("RGB", (3840, 2160), (90, 110, 130))
        photo.paste(group.resize((group.width * factor, group.height * factor), Image.BILINEAR), (1500, 800))
        found = facelib.find_faces(facelib.Picture(np.asarray(photo)), engine, describe=False)
        assert len(found) == expected, (factor, [f.box for f in found])


def test_photos_of_new_sizes_make_no_new_session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A session takes tens of milliseconds to make and holds its own memory: made once per model, never per size."""
    fresh = FastDetector.load(dat_path(), tmp_path / "models")
    made: list[object] = []
    monkeypatch.setattr(detector, "open_session", lambda model: made.append(model))
    photo = pixels_of("groups/obama_and_biden_1.jpg")
    for width in (300, 420, 517):
        assert len(fresh.detect(shrunk(photo, width), 1)) == 2
    assert made == []


def selfie(face_height: float, cut: float, models: facelib.Models) -> np.ndarray:
    """A 1200x750 selfie: kit2's face taking `face_height` of the frame's height at its left edge, `cut` of
    its width outside the frame, before obama_and_biden_2's three people."""
    source = pixels_of("people/kit_harington/kit2.jpg")
    (face,) = facelib.find_faces(facelib.Picture(source), models, describe=False)
    box = face.box
    scale = face_height * 750 / (box.bottom - box.top)
    big = Image.fromarray(source).resize((round(source.shape[1] * scale), round(source.shape[0] * scale)))
    left, top = round((box.left + cut * (box.right - box.left)) * scale), round(box.top * scale - 0.1 * 750)
    foreground = big.crop((left, top, left + 450, top + 750))
    photo = Image.fromarray(pixels_of("groups/obama_and_biden_2.jpg")).resize((1200, 750), Image.BILINEAR)
    photo.paste(foreground, (0, 0))
    return np.asarray(photo)


@pytest.mark.parametrize("face_height, cut", [(0.55, 0.0), (0.55, 0.35), (0.7, 0.3)])
def test_a_selfies_large_foreground_face_cut_by_the_frame_is_found_and_searched(
    tmp_path: Path, engine_models, face_height: float, cut: float
) -> None:
    from facerec.local.rekognition import LocalRekognition

    rekognition = LocalRekognition(tmp_path, engine_models)
    rekognition.create_collection(CollectionId="people")
    kit = (FACES_DIR / "people/kit_harington/kit1.jpg").read_bytes()
    rekognition.index_faces(CollectionId="people", Image={"Bytes": kit}, ExternalImageId="kit")
    photo = jpeg(selfie(face_height, cut, engine_models()))
    boxes = [d["BoundingBox"] for d in rekognition.detect_faces(Image={"Bytes": photo})["FaceDetails"]]
    assert len(boxes) == 4, boxes  # the foreground face and the three people behind
    largest = max(boxes, key=lambda b: b["Width"] * b["Height"])
    assert largest["Left"] < 0.1 and largest["Height"] > face_height * 0.6, largest
    # SearchFacesByImage searches the largest face: the foreground's, which is kit's.
    found = rekognition.search_faces_by_image(CollectionId="people", Image={"Bytes": photo}, FaceMatchThreshold=80)
    assert found["SearchedFaceBoundingBox"] == pytest.approx(largest)
    assert [m["Face"]["ExternalImageId"] for m in found["FaceMatches"]] == ["kit"]
