"""Faces in images: decode, detect, align, describe and judge quality with dlib.

This module knows nothing of AWS. It turns image bytes into `Face` records that
carry everything the Rekognition-shaped engine reports: a pixel box, the
detector's confidence, dlib's 68 face points (Rekognition's landmarks and the
pose come from them), brightness and sharpness, and dlib's 128-d ResNet
descriptor of the aligned face chip.
"""

from __future__ import annotations

import importlib.util
import io
import math
import threading
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from facerec.boxes import PixelBox
from facerec.descriptor import CHIP_SIZE
from facerec.detector_choice import detect, detection_scale, is_live_frame
from facerec.pose import Pose, head_pose
from facerec.settings import ModelSettings

# Largest image we agree to decode. Rekognition caps bytes, not pixels, but a
# small PNG can claim billions of pixels; we refuse those before decoding.
MAX_PIXELS = 40_000_000
# Rekognition's smallest image: at least 80 pixels high and wide.
MIN_IMAGE_SIDE = 80
# Peak memory of analysing an image, measured with ru_maxrss: about 18 bytes a pixel to decode it and
# turn it upright (a 40 MP JPEG: ~700 MB), and up to about 575 bytes a searched pixel for the CNN's
# doubled pyramid, run in bands (a 1920x1080 photo: 1.14 GB; 1317x987: 0.70 GB; see detector.BAND_ROWS).
DECODE_BYTES_PER_PIXEL = 18
CNN_BYTES_PER_PIXEL = 580
CHIP_PADDING = 0.25  # around the face in its chip, as face_recognition aligns it
# dlib's model files, as face_recognition_models ships them.
FIVE_POINTS = "shape_predictor_5_face_landmarks.dat"
SIXTY_EIGHT_POINTS = "shape_predictor_68_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"


class ImageError(ValueError):
    """The bytes are not an image we can read."""


class ImageTooLarge(ValueError):
    """The image is larger than we accept."""


@dataclass(frozen=True)
class Face:
    box: PixelBox
    confidence: float  # 0-100, from the detector's score
    points: np.ndarray  # dlib's 68 face points (iBUG 300-W numbering) in pixels, float32 (68, 2)
    pose: Pose
    brightness: float  # 0-100
    sharpness: float  # 0-100
    descriptor: np.ndarray  # float32, shape (128,)


@dataclass(frozen=True)
class Picture:
    """A decoded RGB image, upright as EXIF says."""

    pixels: np.ndarray  # uint8, (height, width, 3)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def eight_bit(image: Image.Image) -> Image.Image:
    """The image with 8-bit channels: Pillow opens 16-bit gray PNGs as integer mode "I"/"I;16",
    whose convert("RGB") clips every value over 255 to white, so such images are scaled down first."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return image
    wide = np.asarray(image.convert("I"), dtype=np.int64)
    return Image.fromarray((np.clip(wide, 0, 65535) >> 8).astype(np.uint8), "L")


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, in 8-bit RGB."""
    return eight_bit(ImageOps.exif_transpose(image)).convert("RGB")


def decode(data: bytes, formats: tuple[str, ...] = ("JPEG", "PNG")) -> Picture:
    """Decode JPEG or PNG bytes to an upright RGB picture.

    Raises ImageError for anything that is not a complete image of an accepted
    format, and ImageTooLarge for images over MAX_PIXELS.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(formats))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(str(exc)) from exc
    except Exception as exc:  # Pillow raises many kinds for foreign bytes
        raise ImageError(f"not a {' or '.join(formats)} image") from exc
    if image.width * image.height > MAX_PIXELS:
        raise ImageTooLarge(f"{image.width}x{image.height} pixels is over the limit of {MAX_PIXELS}")
    try:
        image.load()
        rgb = upright(image)
    except Exception as exc:  # truncated or corrupt data
        raise ImageError(f"the image data is damaged: {exc}") from exc
    return Picture(np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)))


class Models:
    """dlib's detectors, 5- and 68-point shape predictors and ResNet, loaded once.

    `fast` is the same ResNet under onnxruntime (facerec.descriptor), or None when it
    cannot load or the settings choose dlib (FACEREC_DESCRIPTOR); then dlib's own `resnet`
    describes faces. `cnn` is dlib's CNN face detector under onnxruntime (facerec.detector),
    or None when it cannot load or the settings choose dlib (FACEREC_DETECTOR); then dlib's
    own `dlib_cnn` finds faces. The converted copies are kept in `choice.folder`.
    """

    def __init__(self, choice: ModelSettings) -> None:
        import dlib

        from facerec.descriptor import best_describer
        from facerec.detector import best_detector
        from facerec.shapes import best_shape_model

        self.choice = choice
        # The 5 points align the chip as face_recognition does (its descriptors match ours);
        # the 68 give the landmarks and the pose.
        self.predictor = dlib.shape_predictor(model_file(FIVE_POINTS))
        # dlib-bin takes 0.37 s to read the 68-point model; its cached arrays load in 0.04 s.
        self.shapes = best_shape_model(model_file(SIXTY_EIGHT_POINTS), choice.folder)
        self.dlib_shapes = dlib.shape_predictor(model_file(SIXTY_EIGHT_POINTS)) if self.shapes is None else None
        # dlib-bin's ResNet takes ~100 ms a face; the converted copy gives the same numbers sooner.
        fast = choice.descriptor == "fast"
        self.fast = best_describer(model_file(RESNET), choice.folder) if fast else None
        self.resnet = dlib.face_recognition_model_v1(model_file(RESNET)) if self.fast is None else None
        # dlib-bin's CNN detector takes ~30 s a photo; the converted copy finds the same faces sooner.
        fast = choice.detector == "fast"
        self.cnn = best_detector(model_file(CNN_DETECTOR), choice.folder) if fast else None
        self.dlib_cnn = dlib.cnn_face_detection_model_v1(model_file(CNN_DETECTOR)) if self.cnn is None else None
        self.dlib = dlib
        # dlib's objects are not safe to share between threads mid-call.
        self.lock = threading.Lock()

    @cached_property
    def detector(self):
        """dlib's HOG detector, for camera frames: loaded when the first comes (0.3 s a photo-only process saves)."""
        return self.dlib.get_frontal_face_detector()


def prepare_models(choice: ModelSettings) -> list[Path]:
    """The converted models `choice` runs, made in its folder unless they are there already: set-up's step,
    so that no user action waits for a conversion. Loads nothing."""
    from facerec.descriptor import FastDescriptor
    from facerec.detector import FastDetector
    from facerec.shapes import ShapeModel

    made = FastDescriptor.convert(model_file(RESNET), choice.folder) if choice.descriptor == "fast" else []
    made += ShapeModel.convert(model_file(SIXTY_EIGHT_POINTS), choice.folder)
    return made + (FastDetector.convert(model_file(CNN_DETECTOR), choice.folder) if choice.detector == "fast" else [])


def model_file(name: str) -> str:
    """A model file that face_recognition_models ships, found without importing the package
    (its import loads pkg_resources: 0.15 s of every command's start)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("face_recognition_models is not installed")
    return str(Path(spec.origin).parent / "models" / name)


class LazyModels:
    """The models of one choice, loaded on the first call and kept by whoever holds this (a back end, a
    service): one load per holder, and none for a process that never looks for a face. `loaded`: models
    already loaded, shared if they are of this choice (the tests load theirs once for the run)."""

    def __init__(self, choice: ModelSettings, loaded: Models | None = None) -> None:
        self.choice = choice
        self._loaded = loaded if loaded is not None and loaded.choice == choice else None
        self._lock = threading.Lock()

    def __call__(self) -> Models:
        with self._lock:
            if self._loaded is None:
                self._loaded = Models(self.choice)
            return self._loaded


def find_faces(picture: Picture, models: Models, describe: bool = True) -> list[Face]:
    """Every face in the picture, largest first, fully described, with `models`.

    With describe=False the descriptor is left out (an empty array): enough to
    draw boxes and judge quality on a live preview, at a fraction of the cost.
    """
    with models.lock:
        found = detect(models, picture.pixels)
        shapes = [models.predictor(picture.pixels, rect) for rect, _ in found]
        outlines = [face_points(models, picture.pixels, rect) for rect, _ in found]
        chips = [models.dlib.get_face_chip(picture.pixels, s, CHIP_SIZE, CHIP_PADDING) for s in shapes]
        if not describe:
            descriptors = [np.empty(0, dtype=np.float32)] * len(chips)
        else:
            descriptors = describe_chips(chips, models) if chips else []
    faces = [
        _face(rect, score, points, chip, descriptor, picture)
        for (rect, score), points, chip, descriptor in zip(found, outlines, chips, descriptors, strict=True)
    ]
    return sorted(faces, key=lambda f: f.box.area, reverse=True)


def describe_chips(chips: list[np.ndarray], models: Models) -> list[np.ndarray]:
    """128-d descriptors of aligned 150x150 face chips, with `models`."""
    if models.fast is not None:
        return list(models.fast.describe(chips))
    vectors = models.resnet.compute_face_descriptor(chips)
    return [np.asarray(v, dtype=np.float32) for v in vectors]


def working_memory(width: int, height: int) -> int:
    """Bytes analysing an image of this size takes at its peak, beyond the models (measured, see below)."""
    pixels = width * height
    searched = 0 if is_live_frame(width, height) else round(pixels * detection_scale(width, height) ** 2)
    return DECODE_BYTES_PER_PIXEL * pixels + CNN_BYTES_PER_PIXEL * searched


# dlib's 68-point model starts from an upright face and strays on faces tilted further than
# this (measured: obama1 turned by 40 degrees read a roll of 14, by 35 degrees 35), so the
# points of a tilted face are found again on a copy of it turned upright.
UPRIGHT_ENOUGH_DEGREES = 15.0


def face_points(m: Models, pixels: np.ndarray, rect) -> np.ndarray:
    """dlib's 68 points of the face in `rect`, in pixels (float32, (68, 2)). Call with m.lock held."""
    points = outline(m, pixels, rect)
    for _ in range(2):
        tilt = _eye_line_degrees(points)
        if abs(tilt) < UPRIGHT_ENOUGH_DEGREES:
            break
        points = _points_found_upright(m, pixels, rect, tilt)
    return points


def _points_found_upright(m: Models, pixels: np.ndarray, rect, tilt: float) -> np.ndarray:
    import cv2

    side = 2 * max(rect.width(), rect.height())
    centre = ((rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2)
    # Turned by the tilt about the face's centre, which lands in the middle of a crop of `side`.
    turn = cv2.getRotationMatrix2D(centre, tilt, 1.0)
    turn[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
    upright = np.ascontiguousarray(cv2.warpAffine(pixels, turn, (side, side), flags=cv2.INTER_LINEAR))
    left, top = round(side / 2 - rect.width() / 2), round(side / 2 - rect.height() / 2)
    box = m.dlib.rectangle(left, top, left + rect.width() - 1, top + rect.height() - 1)
    found = outline(m, upright, box)
    back = cv2.invertAffineTransform(turn)
    return (found @ back[:, :2].T + back[:, 2]).astype(np.float32)


def outline(m: Models, pixels: np.ndarray, rect) -> np.ndarray:
    """dlib's 68 points of the face in the dlib rectangle `rect`, (68, 2) float32 pixels, found once."""
    if m.shapes is not None:
        return m.shapes.predict(pixels, (rect.left(), rect.top(), rect.right(), rect.bottom())).astype(np.float32)
    return _points(m.dlib_shapes(pixels, rect))


def _eye_line_degrees(points: np.ndarray) -> float:
    """The tilt of the line from the eye on the image's left to the other, clockwise in degrees."""
    (lx, ly), (rx, ry) = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    return math.degrees(math.atan2(ry - ly, rx - lx))


def _points(shape) -> np.ndarray:
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], dtype=np.float32)


def _face(rect, score: float, points: np.ndarray, chip: np.ndarray, descriptor: np.ndarray, picture: Picture) -> Face:
    box = PixelBox(float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1))
    gray = _gray(chip)
    return Face(
        box=box,
        confidence=detector_confidence(score),
        points=points,
        pose=head_pose(points, picture.width, picture.height),
        brightness=brightness(gray),
        sharpness=sharpness(_gray(native_chip(chip, box.width))),
        descriptor=descriptor,
    )


def _gray(chip: np.ndarray) -> np.ndarray:
    return chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


# The CNN's face box spans about this part of the chip's width (measured on 12 photos of
# ../shared/faces/people through the eye distance in the photo and in the chip: 0.75-0.96,
# median 0.83).
CHIP_FACE_FRACTION = 0.83


def native_chip(chip: np.ndarray, face_width: float) -> np.ndarray:
    """The chip at the face's own resolution: a 45 px face's chip is 150 px of enlarged, soft pixels.

    Sharpness is judged on this, so a small face is as sharp as its pixels are,
    not blurred by the enlargement: small but sharp faces are small, not blurry.
    """
    side = round(face_width / CHIP_FACE_FRACTION)
    if side >= chip.shape[0]:
        return chip
    return np.asarray(Image.fromarray(chip).resize((max(side, 8), max(side, 8)), Image.BILINEAR))


def detector_confidence(score: float) -> float:
    """Map a dlib detector's score (the HOG SVM margin or the CNN's; 0 at dlib's threshold) to 0-100.

    Faces dlib finds at its default threshold come out at 95 or more; clear
    faces (score 1 and up: the CNN gives most faces 1.0-1.1) at 99.7 or more,
    as Rekognition reports them.
    """
    return 100.0 / (1.0 + math.exp(-3.0 * (score + 1.0)))


def brightness(gray_chip: np.ndarray) -> float:
    """Mean luminance of the face chip, 0 (black) to 100 (white)."""
    return float(gray_chip.mean() / 255.0 * 100.0)


def sharpness(gray_chip: np.ndarray) -> float:
    """Variance of the Laplacian of the face chip, mapped to 0-100.

    A blurred face has little high-frequency energy. The scale (variance 100
    gives 63) puts the sharp photographs of ../shared/faces above 90 and a
    Gaussian blur of sigma 2 below 40.
    """
    import cv2

    # ksize=1 is the 4-neighbour kernel; the border rows and columns are left out (cv2 would reflect there).
    laplacian = cv2.Laplacian(gray_chip, cv2.CV_32F, ksize=1)[1:-1, 1:-1]
    return float(100.0 * (1.0 - math.exp(-float(laplacian.var()) / 100.0)))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)))
