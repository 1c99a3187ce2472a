"""The quality policy: what a face needs to pass each QualityFilter level (IndexFaces' bars).

Engine-neutral: the local engine applies it when it indexes and searches, and the app's Add face
preview tells the user the same reasons before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from facerec.detector_choice import detection_scale
from facerec.faces import Face, Picture


@dataclass(frozen=True)
class QualityBar:
    """What a face needs to pass a QualityFilter level."""

    min_side_px: float  # in images up to 1920x1080's pixel count; proportionally more in larger ones
    min_confidence: float
    min_brightness: float
    min_sharpness: float
    max_yaw: float  # degrees either way
    max_pitch_down: float  # degrees: a face nods down to this and up to max_pitch_up
    max_pitch_up: float

    def reasons(self, face: Face, picture: Picture | None = None) -> list[str]:
        """Why the face fails this bar (none: it passes). Without the picture, sizes are as in 1920x1080."""
        found = []
        scale = 1.0 if picture is None else detection_scale(picture.width, picture.height)
        if min(face.box.width, face.box.height) < self.min_side_px / scale:
            found.append("SMALL_BOUNDING_BOX")
        if face.confidence < self.min_confidence:
            found.append("LOW_CONFIDENCE")
        if face.brightness < self.min_brightness:
            found.append("LOW_BRIGHTNESS")
        if face.sharpness < self.min_sharpness:
            found.append("LOW_SHARPNESS")
        if self.pose_is_extreme(face):
            found.append("EXTREME_POSE")
        return found

    def pose_is_extreme(self, face: Face) -> bool:
        # Roll is no reason: a tilted head is turned upright before it is described.
        pitch = face.pose.pitch
        return abs(face.pose.yaw) > self.max_yaw or pitch > self.max_pitch_up or -pitch > self.max_pitch_down


# Rekognition finds and indexes faces down to 40x40 px in 1920x1080 (proportionally
# larger in larger images) under its default filter, and advises yaw within 45
# degrees either way and pitch within 30 down and 45 up, any roll. AUTO is MEDIUM: neither the loosest nor the
# strictest bar. Sharpness and brightness were chosen on ../shared/faces: every face
# of people/ and edge/ passes AUTO (sharpness 39 and up, brightness 34 and up), a
# Gaussian blur of sigma 4 fails LOW.
QUALITY_BARS = {
    "NONE": QualityBar(0, 0, 0, 0, 180, 180, 180),
    "LOW": QualityBar(32, 90, 10, 15, 60, 45, 60),
    "MEDIUM": QualityBar(40, 95, 20, 25, 45, 30, 45),
    "HIGH": QualityBar(100, 99, 25, 50, 30, 20, 30),
}
QUALITY_BARS["AUTO"] = QUALITY_BARS["MEDIUM"]
