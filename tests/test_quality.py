"""The quality bars' edges: a face exactly at a bar passes it, a face just past it fails for that reason alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from facerec.boxes import PixelBox
from facerec.faces import Face, Picture
from facerec.pose import Pose
from facerec.quality import QUALITY_BARS, QualityBar

BAR = QUALITY_BARS["AUTO"]
JUST = 0.01


def face_at(bar: QualityBar, **changes) -> Face:
    """A face that meets every part of the bar exactly, with the given parts changed."""
    side = changes.pop("side", bar.min_side_px)
    face = Face(
        box=PixelBox(left=10, top=10, right=10 + side, bottom=10 + side),
        confidence=bar.min_confidence,
        points=np.zeros((68, 2), np.float32),
        pose=Pose(roll=0, yaw=bar.max_yaw, pitch=bar.max_pitch_up),
        brightness=bar.min_brightness,
        sharpness=bar.min_sharpness,
        descriptor=np.zeros(128, np.float32),
    )
    return dataclasses.replace(face, **changes)


def picture(width: int, height: int) -> Picture:
    return Picture(np.broadcast_to(np.zeros(3, np.uint8), (height, width, 3)))


def test_a_face_exactly_at_the_bar_passes_it() -> None:
    assert BAR.reasons(face_at(BAR)) == []
    assert BAR.reasons(face_at(BAR, pose=Pose(roll=0, yaw=-BAR.max_yaw, pitch=-BAR.max_pitch_down))) == []


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"side": BAR.min_side_px - JUST}, "SMALL_BOUNDING_BOX"),
        ({"confidence": BAR.min_confidence - JUST}, "LOW_CONFIDENCE"),
        ({"brightness": BAR.min_brightness - JUST}, "LOW_BRIGHTNESS"),
        ({"sharpness": BAR.min_sharpness - JUST}, "LOW_SHARPNESS"),
        ({"pose": Pose(roll=0, yaw=BAR.max_yaw + JUST, pitch=0)}, "EXTREME_POSE"),
        ({"pose": Pose(roll=0, yaw=-BAR.max_yaw - JUST, pitch=0)}, "EXTREME_POSE"),
        ({"pose": Pose(roll=0, yaw=0, pitch=BAR.max_pitch_up + JUST)}, "EXTREME_POSE"),
        ({"pose": Pose(roll=0, yaw=0, pitch=-BAR.max_pitch_down - JUST)}, "EXTREME_POSE"),
    ],
)
def test_a_face_just_past_one_edge_fails_for_that_reason_alone(changes: dict, reason: str) -> None:
    assert BAR.reasons(face_at(BAR, **changes)) == [reason]


def test_looking_up_is_allowed_further_than_looking_down() -> None:
    # Rekognition's advice: pitch within 30 degrees down and 45 up.
    between = (BAR.max_pitch_down + BAR.max_pitch_up) / 2
    assert BAR.reasons(face_at(BAR, pose=Pose(roll=0, yaw=0, pitch=between))) == []
    assert BAR.reasons(face_at(BAR, pose=Pose(roll=0, yaw=0, pitch=-between))) == ["EXTREME_POSE"]


def test_the_smallest_face_grows_with_pictures_larger_than_1920x1080() -> None:
    at_the_bar = face_at(BAR)
    assert BAR.reasons(at_the_bar, picture(1920, 1080)) == []
    assert BAR.reasons(at_the_bar, picture(640, 480)) == []  # smaller pictures keep the bar in pixels
    # Four times the pixels: the CNN searches it at half the size, so a face needs twice the side.
    assert BAR.reasons(at_the_bar, picture(3840, 2160)) == ["SMALL_BOUNDING_BOX"]
    assert BAR.reasons(face_at(BAR, side=2 * BAR.min_side_px), picture(3840, 2160)) == []
