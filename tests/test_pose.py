"""Head poses (facerec.pose) on the photos of ../shared/faces: consistent under mirroring and turning."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facerec import faces as facelib
from facerec.pose import FACE_MODEL_MM, Pose, head_pose
from facerec.quality import QUALITY_BARS

FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "faces"))
PEOPLE = sorted(str(p.relative_to(FACES_DIR)) for p in (FACES_DIR / "people").glob("*/*"))
# Chosen by eye: these people look into the camera, head upright.
LOOKING_INTO_THE_CAMERA = [
    "people/alex_lacamoire/alex2.jpg",
    "people/alex_lacamoire/alex3.jpg",
    "people/barack_obama/obama1.jpg",
    "people/barack_obama/obama_720p.jpg",
    "people/barack_obama/obama_320x240.jpg",
    "people/joe_biden/biden2.jpg",
    "people/rose_leslie/rose2.jpg",
]
# Chosen by eye: heads turned so that the nose points to the image's left, or its right.
TURNED_TO_THE_LEFT = ["people/barack_obama/obama2.jpg", "people/kit_harington/kit2.jpg"]
TURNED_TO_THE_RIGHT = ["people/barack_obama/obama4.jpg", "people/kit_harington/kit3.jpg"]


@pytest.fixture(scope="module")
def engine(loaded_models) -> facelib.Models:
    return loaded_models


def image(relative: str) -> Image.Image:
    """The photo at most 800 px across: the faces are still 100 px and more, and are found sooner."""
    picture = Image.fromarray(facelib.decode((FACES_DIR / relative).read_bytes()).pixels)
    picture.thumbnail((800, 800), Image.LANCZOS)
    return picture


def pose_of(picture: Image.Image, engine: facelib.Models) -> Pose:
    return face_in(picture, engine).pose


def face_in(picture: Image.Image, engine: facelib.Models) -> facelib.Face:
    (face,) = facelib.find_faces(facelib.Picture(np.asarray(picture.convert("RGB"))), engine, describe=False)
    return face


@pytest.fixture(scope="module")
def photo_pose(engine: facelib.Models):
    """The pose of the face in a photo of FACES_DIR, or in its mirror image, found once per module."""

    @functools.cache
    def pose(relative: str, mirrored: bool = False) -> Pose:
        picture = image(relative)
        return pose_of(picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else picture, engine)

    return pose


@pytest.mark.parametrize("relative", LOOKING_INTO_THE_CAMERA)
def test_a_face_looking_into_the_camera_reads_near_zero(relative: str, photo_pose) -> None:
    pose = photo_pose(relative)
    assert abs(pose.yaw) < 10 and abs(pose.pitch) < 15 and abs(pose.roll) < 10, pose


@pytest.mark.parametrize("relative", TURNED_TO_THE_LEFT + TURNED_TO_THE_RIGHT)
def test_yaw_tells_which_way_the_head_is_turned(relative: str, photo_pose) -> None:
    yaw = photo_pose(relative).yaw
    assert (yaw < -10) if relative in TURNED_TO_THE_LEFT else (yaw > 10), yaw


@pytest.mark.parametrize("relative", PEOPLE)
def test_a_mirrored_face_turns_yaw_and_roll_round(relative: str, photo_pose) -> None:
    pose, mirrored = photo_pose(relative), photo_pose(relative, mirrored=True)
    # dlib's points are not placed exactly mirrored, so the angles agree to a few degrees.
    assert abs(mirrored.yaw + pose.yaw) < 7, (pose, mirrored)
    assert abs(mirrored.roll + pose.roll) < 5, (pose, mirrored)
    assert abs(mirrored.pitch - pose.pitch) < 12, (pose, mirrored)


@pytest.mark.parametrize("degrees", [-40, -20, 15, 35])
def test_turning_the_photo_moves_roll_by_that_angle(degrees: int, engine: facelib.Models, photo_pose) -> None:
    photo = image("people/barack_obama/obama1.jpg")
    pose = photo_pose("people/barack_obama/obama1.jpg")
    # Pillow turns counter-clockwise; roll counts clockwise.
    turned = pose_of(photo.rotate(degrees, resample=Image.BICUBIC, expand=True), engine)
    assert abs(turned.roll - (pose.roll - degrees)) < 3, (pose, turned)
    assert abs(turned.yaw - pose.yaw) < 5 and abs(turned.pitch - pose.pitch) < 5, (pose, turned)


@pytest.mark.parametrize(
    "roll, yaw, pitch", [(0, 70, 0), (0, -60, 0), (0, 0, 50), (0, 0, -50), (30, 40, -20), (-100, -30, 25)]
)
def test_far_turned_faces_read_their_angle_not_a_limit(roll: float, yaw: float, pitch: float) -> None:
    """The points of a face at a known pose, projected by a camera 60 cm away, give that pose back."""
    points = np.zeros((68, 2))
    width, height, focal = 1280, 960, 1280.0
    for index, xyz in FACE_MODEL_MM.items():
        x, y, z = _turned(np.asarray(xyz), roll, yaw, pitch) + (0.0, 0.0, 600.0)
        points[index] = (width / 2 + focal * x / z, height / 2 + focal * y / z)
    pose = head_pose(points, width, height)
    assert pose.roll == pytest.approx(roll, abs=1)
    assert pose.yaw == pytest.approx(yaw, abs=1)
    assert pose.pitch == pytest.approx(pitch, abs=1)


def _turned(xyz: np.ndarray, roll: float, yaw: float, pitch: float) -> np.ndarray:
    """The point of a face that nods up by pitch, turns its nose to the image's right by yaw, then tilts by roll."""
    r, y, p = (math.radians(a) for a in (roll, yaw, pitch))
    # x to the right, y down, z away: nodding up moves the nose tip (the front) up, y < 0.
    nod = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    turn = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    tilt = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return tilt @ turn @ nod @ xyz


@pytest.fixture(scope="module")
def frontal_face(engine: facelib.Models) -> facelib.Face:
    return face_in(image("people/barack_obama/obama1.jpg"), engine)


@pytest.mark.parametrize(
    "pose, level, extreme",
    [
        (Pose(roll=0, yaw=44, pitch=0), "AUTO", False),
        (Pose(roll=0, yaw=-50, pitch=0), "AUTO", True),
        (Pose(roll=0, yaw=0, pitch=40), "AUTO", False),  # looking up: allowed to 45
        (Pose(roll=0, yaw=0, pitch=-35), "AUTO", True),  # looking down: allowed to 30
        (Pose(roll=70, yaw=0, pitch=0), "AUTO", False),  # a tilted head is no reason
        (Pose(roll=0, yaw=35, pitch=0), "HIGH", True),
        (Pose(roll=0, yaw=55, pitch=0), "LOW", False),
    ],
)
def test_extreme_pose_follows_rekognitions_limits(pose: Pose, level: str, extreme: bool, frontal_face) -> None:
    posed = dataclasses.replace(frontal_face, pose=pose)
    assert ("EXTREME_POSE" in QUALITY_BARS[level].reasons(posed)) is extreme
