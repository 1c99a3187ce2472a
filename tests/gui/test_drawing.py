"""Boxes and labels drawn on a picture: every label whole, within the picture, clear of the others."""

from __future__ import annotations

from PIL import Image, ImageDraw

from facerec.gui.drawing import fitting_text, font, overlaps, place_label

PICTURE = (640, 480)
LABEL = (180, 30)


def within(rect, picture=PICTURE) -> bool:
    return 0 <= rect[0] and 0 <= rect[1] and rect[2] <= picture[0] and rect[3] <= picture[1]


def test_a_label_of_a_face_at_the_right_edge_stays_in_the_picture() -> None:
    rect = place_label((560, 200, 640, 280), LABEL, PICTURE, [])
    assert within(rect) and rect[3] <= 200  # above the box, moved left rather than cut off


def test_a_label_of_a_face_at_the_top_goes_below_it_and_at_the_bottom_above() -> None:
    top = place_label((100, 0, 200, 100), LABEL, PICTURE, [])
    assert within(top) and top[1] >= 100
    whole = place_label((100, 0, 200, 480), LABEL, PICTURE, [])  # a face filling the height: inside its box
    assert within(whole)


def test_labels_of_faces_side_by_side_do_not_overlap() -> None:
    taken: list = []
    for left in (100, 160, 220):  # three faces 60 px apart with labels 180 px wide, as in a group photo
        rect = place_label((left, 200, left + 50, 250), LABEL, PICTURE, taken)
        assert within(rect)
        assert not any(overlaps(rect, other) for other in taken), (rect, taken)
        taken.append(rect)


def test_a_label_wider_than_the_picture_is_cut_short_with_an_ellipsis() -> None:
    pen = ImageDraw.Draw(Image.new("RGB", (160, 120)))
    label = "Alexandra Lacamoire-Miranda · 99.9%"
    text = fitting_text(pen, label, font(12), 150)
    assert text.endswith("…") and label.startswith(text[:-1].rstrip())
    assert pen.textlength(text, font=font(12)) <= 150
    assert fitting_text(pen, "Kit · 99%", font(12), 150) == "Kit · 99%"
