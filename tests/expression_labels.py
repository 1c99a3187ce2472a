"""Expressions of the faces of ../shared/faces, labelled by eye (None: not clear enough to say).

Keyed by photo and the face's rank by size (0: the largest, as facerec.faces.find_faces orders
them). Read by the expression tests and by bench/attributes.py, which prints the errors.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Labels:
    eyes_open: bool | None
    mouth_open: bool | None  # lips apart, as in a smile that shows the teeth
    smile: bool | None


LABELS: dict[tuple[str, int], Labels] = {
    ("people/alex_lacamoire/alex1.png", 0): Labels(True, True, True),
    ("people/alex_lacamoire/alex2.jpg", 0): Labels(True, True, True),
    ("people/alex_lacamoire/alex3.jpg", 0): Labels(True, True, True),
    ("people/barack_obama/obama1.jpg", 0): Labels(True, True, True),
    ("people/barack_obama/obama2.jpg", 0): Labels(True, True, False),  # talking
    ("people/barack_obama/obama3.jpg", 0): Labels(True, False, False),
    ("people/barack_obama/obama4.jpg", 0): Labels(True, False, False),  # lips pressed
    ("people/barack_obama/obama_320x240.jpg", 0): Labels(True, True, True),
    ("people/barack_obama/obama_720p.jpg", 0): Labels(True, True, True),
    ("people/joe_biden/biden1.jpg", 0): Labels(True, False, False),
    ("people/joe_biden/biden2.jpg", 0): Labels(True, True, True),
    ("people/kit_harington/kit1.jpg", 0): Labels(True, False, False),
    ("people/kit_harington/kit2.jpg", 0): Labels(True, False, False),
    ("people/kit_harington/kit3.jpg", 0): Labels(True, False, False),
    ("people/lin_manuel_miranda/lin1.png", 0): Labels(True, None, False),  # talking, lips barely apart
    ("people/rose_leslie/rose1.jpg", 0): Labels(True, False, False),
    ("people/rose_leslie/rose2.jpg", 0): Labels(True, False, None),  # a faint closed-mouth smile
    ("groups/kit_and_rose.jpg", 0): Labels(True, False, None),  # Kit: a faint smile
    ("groups/kit_and_rose.jpg", 1): Labels(True, True, True),  # Rose
    ("groups/obama_and_biden_1.jpg", 0): Labels(True, False, False),
    ("groups/obama_and_biden_1.jpg", 1): Labels(True, False, False),
    ("groups/obama_and_biden_2.jpg", 0): Labels(None, True, True),  # laughing, eyes nearly shut
    ("groups/obama_and_biden_2.jpg", 1): Labels(True, False, None),  # a half smile
    ("edge/obama_1080p.jpg", 0): Labels(True, True, True),
    ("edge/obama_240p.jpg", 0): Labels(True, True, True),
    ("edge/obama_partial_face1.jpg", 0): Labels(True, True, True),
    ("edge/obama_partial_face2.jpg", 0): Labels(True, True, True),
    ("edge/obama_rgba_32bit.png", 0): Labels(True, True, False),  # talking
}
# The third face of obama_and_biden_2.jpg is left out: hair covers its eyes and dlib's points miss it.
