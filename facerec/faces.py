"""Faces in images: decode, detect, align, describe and judge quality with dlib.

This module knows nothing of AWS. It turns image bytes into `Face` records that
carry everything the Rekognition-shaped engine reports: a pixel box, the
detector's confidence, five landmarks, an estimated pose, brightness and
sharpness, and dlib's 128-d ResNet descriptor of the aligned face chip.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps

# Largest image we agree to decode. Rekognition caps bytes, not pixels, but a
# small PNG can claim billions of pixels; we refuse those before decoding.
MAX_PIXELS = 40_000_000
# Detection runs on a copy no larger than this; landmarks and descriptors use
# the full-resolution image, so accuracy does not suffer for big photos.
MAX_DETECT_PIXELS = 1_600_000
# Below this size the HOG detector (80x80 px window) gets a second, upsampled
# pass when the first finds nothing, so small faces in small images are found.
UPSAMPLE_BELOW_PIXELS = 1_000_000
CHIP_SIZE = 150
CHIP_PADDING = 0.25
DESCRIPTOR_SIZE = 128


class ImageError(ValueError):
    """The bytes are not an image we can read."""


class ImageTooLarge(ValueError):
    """The image is larger than we accept."""


@dataclass(frozen=True)
class Box:
    """A face box in pixels of the (EXIF-oriented) image."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return self.width * self.height


@dataclass(frozen=True)
class Pose:
    roll: float
    yaw: float
    pitch: float


@dataclass(frozen=True)
class Face:
    box: Box
    confidence: float  # 0-100, from the HOG detector's SVM score
    landmarks: dict[str, tuple[float, float]]  # name -> (x, y) in pixels
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


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, in RGB."""
    return ImageOps.exif_transpose(image).convert("RGB")


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
    """dlib's detector, 5-point shape predictor and ResNet, loaded once.

    `fast` is the same ResNet under onnxruntime (facerec.descriptor), or None when it
    cannot load or FACEREC_DESCRIPTOR=dlib; then dlib's own `resnet` describes faces.
    """

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as files

        from facerec import paths
        from facerec.descriptor import best_describer

        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(files.pose_predictor_five_point_model_location())
        self.resnet = dlib.face_recognition_model_v1(files.face_recognition_model_location())
        # dlib-bin's ResNet takes ~100 ms a face; the converted copy gives the same numbers sooner.
        self.fast = best_describer(files.face_recognition_model_location(), paths.data_dir() / "models")
        self.dlib = dlib
        # dlib's objects are not safe to share between threads mid-call.
        self.lock = threading.Lock()


@lru_cache(maxsize=1)
def models() -> Models:
    return Models()


def find_faces(picture: Picture, describe: bool = True) -> list[Face]:
    """Every face in the picture, largest first, fully described.

    With describe=False the descriptor is left out (an empty array): enough to
    draw boxes and judge quality on a live preview, at a fraction of the cost.
    """
    m = models()
    with m.lock:
        found = _detect(m, picture.pixels)
        shapes = [m.predictor(picture.pixels, rect) for rect, _ in found]
        chips = [m.dlib.get_face_chip(picture.pixels, s, CHIP_SIZE, CHIP_PADDING) for s in shapes]
        if not describe:
            descriptors = [np.empty(0, dtype=np.float32)] * len(chips)
        else:
            descriptors = describe_chips(chips, m) if chips else []
    faces = [
        _face(rect, score, shape, chip, descriptor)
        for (rect, score), shape, chip, descriptor in zip(found, shapes, chips, descriptors, strict=True)
    ]
    return sorted(faces, key=lambda f: f.box.area, reverse=True)


def describe_chips(chips: list[np.ndarray], m: Models | None = None) -> list[np.ndarray]:
    """128-d descriptors of aligned 150x150 face chips."""
    m = m or models()
    if m.fast is not None:
        return list(m.fast.describe(chips))
    vectors = m.resnet.compute_face_descriptor(chips)
    return [np.asarray(v, dtype=np.float32) for v in vectors]


def _detect(m: Models, pixels: np.ndarray) -> list[tuple[object, float]]:
    """Face rectangles in full-image pixels with their detector scores."""
    height, width = pixels.shape[:2]
    scale = min(1.0, math.sqrt(MAX_DETECT_PIXELS / (width * height)))
    small = pixels if scale == 1.0 else _resize(pixels, scale)
    rects, scores, _ = m.detector.run(small, 0, 0.0)
    if not len(rects) and small.shape[0] * small.shape[1] <= UPSAMPLE_BELOW_PIXELS:
        rects, scores, _ = m.detector.run(small, 1, 0.0)
    out = []
    for rect, score in zip(rects, scores, strict=True):
        if scale != 1.0:
            rect = m.dlib.rectangle(
                round(rect.left() / scale),
                round(rect.top() / scale),
                round(rect.right() / scale),
                round(rect.bottom() / scale),
            )
        out.append((rect, float(score)))
    return out


def _resize(pixels: np.ndarray, scale: float) -> np.ndarray:
    image = Image.fromarray(pixels)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.BILINEAR))


def _face(rect, score: float, shape, chip: np.ndarray, descriptor: np.ndarray) -> Face:
    points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(shape.num_parts)]
    landmarks = _landmarks(points)
    gray = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return Face(
        box=Box(float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1)),
        confidence=detector_confidence(score),
        landmarks=landmarks,
        pose=estimate_pose(landmarks),
        brightness=brightness(gray),
        sharpness=sharpness(gray),
        descriptor=descriptor,
    )


def detector_confidence(score: float) -> float:
    """Map the HOG SVM margin (0 at dlib's default threshold) to 0-100.

    Faces dlib finds at its default threshold come out at 95 or more; clear
    frontal faces (margin 1 and up) at 99.7 or more, as Rekognition reports them.
    """
    return 100.0 / (1.0 + math.exp(-3.0 * (score + 1.0)))


def _landmarks(points: list[tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Name dlib's 5 points as Rekognition names landmarks (the subject's left and right)."""
    eye_a = _mean(points[0:2])
    eye_b = _mean(points[2:4])
    # The subject's left eye appears on the right of the image.
    eye_left, eye_right = (eye_a, eye_b) if eye_a[0] > eye_b[0] else (eye_b, eye_a)
    return {"eyeLeft": eye_left, "eyeRight": eye_right, "nose": points[4]}


def _mean(points: list[tuple[float, float]]) -> tuple[float, float]:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


# On frontal faces the nose tip sits this far below the eye line, in units of
# the distance between the eyes (measured on ../shared/faces: 0.6 to 0.85).
FRONTAL_NOSE_DROP = 0.73


def estimate_pose(landmarks: dict[str, tuple[float, float]]) -> Pose:
    """A coarse head pose in degrees from the eyes and the nose tip.

    Roll is the tilt of the eye line. Yaw follows the nose's sideways offset
    from the eyes' midpoint, pitch its drop below the eye line, both relative
    to the distance between the eyes. Good to some ten degrees: enough to flag
    an extreme pose, which is what the quality filter needs.
    """
    (rx, ry), (lx, ly) = landmarks["eyeRight"], landmarks["eyeLeft"]
    nx, ny = landmarks["nose"]
    dx, dy = lx - rx, ly - ry
    eye_distance = math.hypot(dx, dy) or 1.0
    ux, uy = dx / eye_distance, dy / eye_distance
    mx, my = (lx + rx) / 2, (ly + ry) / 2
    along = ((nx - mx) * ux + (ny - my) * uy) / eye_distance
    drop = (-(nx - mx) * uy + (ny - my) * ux) / eye_distance
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, 2.0 * along))))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, (FRONTAL_NOSE_DROP - drop) / FRONTAL_NOSE_DROP))))
    roll = math.degrees(math.atan2(dy, dx))
    return Pose(roll=roll, yaw=yaw, pitch=pitch)


def brightness(gray_chip: np.ndarray) -> float:
    """Mean luminance of the face chip, 0 (black) to 100 (white)."""
    return float(gray_chip.mean() / 255.0 * 100.0)


def sharpness(gray_chip: np.ndarray) -> float:
    """Variance of the Laplacian of the face chip, mapped to 0-100.

    A blurred face has little high-frequency energy. The scale (variance 100
    gives 63) puts the sharp photographs of ../shared/faces above 90 and a
    Gaussian blur of sigma 2 below 40.
    """
    g = gray_chip
    laplacian = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(100.0 * (1.0 - math.exp(-float(laplacian.var()) / 100.0)))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)))
