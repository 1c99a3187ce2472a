"""Head pose from dlib's 68 face points: a generic 3D face fitted to them with OpenCV's solvePnP.

Angles are in degrees, as Rekognition reports them: roll is the in-plane turn (positive
clockwise in the image), yaw the turn sideways (positive when the nose points to the image's
right), pitch the nod (positive when the face looks up). A 0/0/0 face looks into the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A generic adult face in millimetres (x to the image's right, y down, z away from the camera,
# origin at the nose tip), for points of dlib's 68 that hold still as the face moves: the nose,
# the eye corners and the chin. Proportions from anthropometric averages (outer eye corners
# 90 mm apart, inner 32 mm). The mouth corners are left out: a smile raises them, which the fit
# read as a nod down (a smiling frontal face at pitch -38); the chin stays, without it pitch
# wandered by 37 degrees on frontal faces. Measured on ../shared/faces: docs/attributes.md.
FACE_MODEL_MM = {
    30: (0.0, 0.0, 0.0),  # nose tip
    27: (0.0, -48.0, 22.0),  # top of the nose, between the eyes
    33: (0.0, 15.0, 14.0),  # below the nose
    31: (-14.0, 10.0, 18.0),  # nostril wings
    35: (14.0, 10.0, 18.0),
    36: (-45.0, -35.0, 38.0),  # outer and inner eye corners
    39: (-16.0, -35.0, 28.0),
    42: (16.0, -35.0, 28.0),
    45: (45.0, -35.0, 38.0),
    8: (0.0, 70.0, 18.0),  # chin
}
_INDICES = sorted(FACE_MODEL_MM)
_MODEL = np.array([FACE_MODEL_MM[i] for i in _INDICES], dtype=np.float64)
_OUTER_EYE_SPAN_MM = FACE_MODEL_MM[45][0] - FACE_MODEL_MM[36][0]


@dataclass(frozen=True)
class Pose:
    roll: float
    yaw: float
    pitch: float


def head_pose(points: np.ndarray, width: int, height: int) -> Pose:
    """The pose of a face from its 68 points (pixels) in an image of width x height."""
    import cv2  # only the engine measures poses; the app's other paths need not load OpenCV

    image_points = np.asarray(points, dtype=np.float64)[_INDICES]
    camera = _camera(width, height)
    rvec, tvec = _facing_camera_guess(image_points, camera)
    # Started facing the camera: without a start, the fit can land on the mirror solution
    # behind the camera (roll 180).
    _, rvec, _ = cv2.solvePnP(
        _MODEL, image_points, camera, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    rotation, _ = cv2.Rodrigues(rvec)
    return _angles(rotation)


def _camera(width: int, height: int) -> np.ndarray:
    """A pinhole camera with a normal lens (focal length the image's longer side), centred."""
    focal = float(max(width, height))
    return np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])


def _facing_camera_guess(image_points: np.ndarray, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """No rotation, at the distance the eyes' span in pixels implies, where the points are."""
    focal, cx, cy = camera[0, 0], camera[0, 2], camera[1, 2]
    left, right = image_points[_INDICES.index(36)], image_points[_INDICES.index(45)]
    distance = focal * _OUTER_EYE_SPAN_MM / max(float(np.linalg.norm(right - left)), 1.0)
    x, y = image_points.mean(axis=0)
    tvec = np.array([[(x - cx) * distance / focal], [(y - cy) * distance / focal], [distance]])
    return np.zeros((3, 1)), tvec


def _angles(rotation: np.ndarray) -> Pose:
    """Roll, yaw and pitch of rotation = Rz(roll) @ Ry(-yaw) @ Rx(-pitch), so a turn in the image is roll alone."""
    r = rotation
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    yaw = -math.degrees(math.atan2(-r[2, 0], math.hypot(r[2, 1], r[2, 2])))
    pitch = -math.degrees(math.atan2(r[2, 1], r[2, 2]))
    return Pose(roll=roll, yaw=yaw, pitch=pitch)
