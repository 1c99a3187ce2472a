"""The app in a person's first five minutes: keys, a resized window, dialogs, closing early, what it says."""

from __future__ import annotations

import io
import re
import time
import tkinter as tk
from pathlib import Path
from tkinter import font as tkfont
from tkinter import ttk

import pytest

from tests.conftest import FACES_DIR
from tests.gui.conftest import (
    GREY_SCENE,
    answer_dialogs,
    click,
    grab,
    idle,
    offered_but_disabled,
    press,
    press_where_focused,
    pump,
    type_into,
    within,
)

BLUE = (9, 105, 218)  # a named face's box
PREVIEW_BACKGROUND = (31, 35, 40)


def enrol(app, name: str, relative: str) -> None:
    assert app.service.add(name, (FACES_DIR / relative).read_bytes()).ok


def names_in_history(window) -> list[str]:
    return [window.history.item(row, "values")[1] for row in window.history.get_children()]


def open_window(app, key: str):
    """Open a window from the home window with its letter key, as a person would."""
    press(app.root, key[0])
    return pump(app.root, lambda: app.windows.get(key), what=f"the {key} window")


# People


def test_people_buttons_are_visible_at_the_default_size_and_when_smaller(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    for name, photo in [("Rose Leslie", "rose_leslie/rose1.jpg"), ("Kit Harington", "kit_harington/kit1.jpg")]:
        enrol(app, name, f"people/{photo}")
    people = open_window(app, "people")
    pump(app.root, lambda: len(people.rows) == 2, what="the list")
    for size in (None, "640x480"):
        if size:
            people.geometry(size)
        pump(app.root, lambda s=size: people.winfo_width() > 1 and (s is None or people.winfo_height() <= 490))
        for button in (
            people.delete_button,
            people.refresh_button,
            people.add_photo_button,
            people.remove_photo_button,
        ):
            assert within(button, people), f"{button.cget('text')} hidden at {people.winfo_geometry()}"


def test_people_lists_someone_added_while_it_is_open(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Rose Leslie", "people/rose_leslie/rose1.jpg")
    people = open_window(app, "people")
    pump(app.root, lambda: len(people.rows) == 1, what="the list")
    add = open_window(app, "add")
    type_into(add.name_entry, "Kit Harington")
    add.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit1.jpg"
    click(add.open_button)
    pump(app.root, lambda: add.capture_button.instate(["!disabled"]), what="Capture")
    click(add.capture_button)
    pump(app.root, lambda: add.added, what="the add")
    pump(app.root, lambda: len(people.rows) == 2, what="People to list the new person, with no Refresh pressed")
    assert [r.person.name for r in people.rows] == ["Kit Harington", "Rose Leslie"]


def test_the_ninth_person_is_in_reach_in_a_small_window(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    data = (FACES_DIR / "people/rose_leslie/rose1.jpg").read_bytes()
    for n in range(1, 10):
        assert app.service.add(f"Person {n}", data).ok
    people = open_window(app, "people")
    people.geometry("640x480")
    pump(app.root, lambda: len(people.rows) == 9, what="the list")
    app.root.update()
    last = people.table.get_children()[-1]
    assert not people.table.bbox(last), "the window should be too short for nine people"
    [bar] = [w for w in people.table.master.winfo_children() if w.winfo_class() == "TScrollbar"]
    assert within(bar, people) and bar.winfo_ismapped() and bar.get()[1] < 1
    bar_bottom = bar.winfo_height() - 3
    for _ in range(20):  # a person pulls the scrollbar down by clicks in its trough
        bar.event_generate("<ButtonPress-1>", x=bar.winfo_width() // 2, y=bar_bottom)
        bar.event_generate("<ButtonRelease-1>", x=bar.winfo_width() // 2, y=bar_bottom)
        app.root.update()
    assert people.table.bbox(last), "the ninth person stays out of reach"
    assert people.table.item(last, "text").strip() == "Person 9"


def test_the_delete_confirmation_counts_faces_and_defaults_to_no(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Rose Leslie", "people/rose_leslie/rose1.jpg")
    people = open_window(app, "people")
    pump(app.root, lambda: people.rows, what="the list")
    people.table.selection_set("0")
    seen: list[str] = []

    answer_dialogs(app.root, ("<Return>",), seen=seen)  # Enter takes the default answer
    press(people.table, "Delete")
    idle(app)
    assert len(seen) == 1 and "1 face," in seen[0] and "1 faces" not in seen[0], seen
    assert [p.name for p in app.service.people()] == ["Rose Leslie"]

    answer_dialogs(app.root, ("<Shift-Tab>", "<Return>"), seen=seen)  # to Yes, then Enter
    press(people.table, "Delete")
    idle(app)
    pump(app.root, lambda: people.rows == [], what="the list without Rose")
    assert app.service.people() == []


def test_a_person_is_renamed_with_f2_and_merged_only_when_the_person_says_yes(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Rose Lesley", "people/rose_leslie/rose1.jpg")
    enrol(app, "Rose Leslie", "people/rose_leslie/rose2.jpg")
    people = open_window(app, "people")
    pump(app.root, lambda: len(people.rows) == 2, what="the list")
    people.table.selection_set(next(r for r in people.table.get_children() if "Lesley" in people.table.item(r, "text")))
    typed: list[str] = []
    people.ask_new_name = lambda person: typed.append(person.name) or "rose leslie"
    seen: list[str] = []

    answer_dialogs(app.root, ("<Return>",), seen=seen)  # the merge question: Enter takes the default, No
    press(people.table, "F2")
    pump(app.root, lambda: seen and people.rename_button.instate(["!disabled"]), what="the refused rename")
    assert typed == ["Rose Lesley"] and "Rose Leslie is already enrolled" in seen[0]
    assert sorted((p.name, p.face_count) for p in app.service.people()) == [("Rose Lesley", 1), ("Rose Leslie", 1)]

    answer_dialogs(app.root, ("<Shift-Tab>", "<Return>"), seen=seen)  # to Yes, then Enter
    click(people.rename_button)
    pump(app.root, lambda: len(people.rows) == 1, what="People to list one Rose")
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Rose Leslie", 2)]
    assert "Renamed Rose Lesley to Rose Leslie" in people.status.text


def test_people_are_searched_and_a_persons_photos_added_to_and_removed(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    enrol(app, "Kit Harington", "people/kit_harington/kit2.jpg")
    enrol(app, "Rose Leslie", "people/rose_leslie/rose1.jpg")
    people = open_window(app, "people")
    pump(app.root, lambda: len(people.rows) == 2, what="the list")
    people.event_generate("<Control-KeyPress-f>", when="now")
    type_into(people.search_entry, "  KIT ")  # as names are compared: case and spaces aside
    listed = [people.table.item(r, "text").strip() for r in people.table.get_children()]
    assert listed == ["Kit Harington"]
    press(people.search_entry, "Down")  # from the search to the one it found
    pump(app.root, lambda: len(people.photo_rows) == 2, what="Kit's two photos")
    assert people.photos_label.cget("text") == "Photos of Kit Harington"
    assert all(row.thumbnail is not None for row in people.photo_rows)

    people.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit3.jpg"
    click(people.add_photo_button)
    pump(app.root, lambda: len(people.photo_rows) == 3, what="the photo added")
    assert "Added a photo of Kit Harington" in people.status.text
    assert people.selected().name == "Kit Harington"  # the same person, still selected

    asked = []
    people.confirm_remove = lambda person, photo: asked.append((person.name, photo.faces)) or True
    people.photo_table.selection_set("0")
    removed_key = people.photo_rows[0].key
    press(people.photo_table, "Delete")  # the photo, not the person
    pump(app.root, lambda: len(people.photo_rows) == 2, what="the photo removed")
    assert asked == [("Kit Harington", 1)]
    assert removed_key not in {key for _, key in people.selected().faces}
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Kit Harington", 2), ("Rose Leslie", 1)]

    people.search_entry.delete(0, "end")
    pump(app.root, lambda: len(people.table.get_children()) == 2, what="everyone again")


def test_a_collection_exported_from_people_is_imported_back_after_a_delete(
    make_app, obama_video: Path, tmp_path: Path
) -> None:
    app = make_app(obama_video)
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    enrol(app, "Rose Leslie", "people/rose_leslie/rose1.jpg")
    people = open_window(app, "people")
    pump(app.root, lambda: len(people.rows) == 2, what="the list")
    archive = tmp_path / "backup.facerec"
    people.ask_archive_path = lambda saving: archive
    asked = []
    people.ask_passphrase = lambda saving: asked.append(saving) or "a passphrase"
    click(people.export_button)
    pump(app.root, lambda: "Exported 2 photos to backup.facerec" in people.status.text, what="the export")
    assert people.progress.cget("maximum") == 2  # the bar went through the photos
    assert b"Kit Harington" not in archive.read_bytes()  # sealed by the passphrase

    people.confirm = lambda person: True
    people.table.selection_set("0")
    press(people.table, "Delete")
    pump(app.root, lambda: len(people.rows) == 1, what="Kit deleted")
    click(people.import_button)
    pump(app.root, lambda: "Imported 1 of 2 photos: 1 already there" in people.status.text, what="the import")
    assert asked == [True, False]  # asked when saving, and again when opening the sealed archive
    assert [(r.person.name, r.person.face_count) for r in people.rows] == [("Kit Harington", 1), ("Rose Leslie", 1)]


# Space and Enter


def test_space_on_a_focused_button_only_presses_that_button(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    check = open_window(app, "check")
    pump(app.root, lambda: check.preview.live, what="the camera")
    asked = []
    check.ask_image_path = lambda: asked.append(1) or FACES_DIR / "people/kit_harington/kit2.jpg"
    press(check.open_button, "space")
    idle(app)
    pump(app.root, lambda: check.results, what="the check of the photo")
    assert asked == [1] and names_in_history(check) == ["Kit Harington"]

    click(check.camera_button)
    press(check.capture_button, "space")  # the camera's picture of Barack Obama, checked once
    idle(app)
    assert names_in_history(check) == ["Unknown", "Kit Harington"]
    click(check.camera_button)
    press(check, "space")  # no button has the focus: Space captures
    idle(app)
    assert names_in_history(check) == ["Unknown", "Unknown", "Kit Harington"]

    add = open_window(app, "add")
    type_into(add.name_entry, "Joe Biden")
    assert add.name.get() == "Joe Biden"  # Space types in the name field
    pump(app.root, lambda: add.capture_button.instate(["!disabled"]), what="a usable face")
    add.ask_image_path = lambda: None  # the person cancels the file dialog
    press(add.open_button, "space")
    idle(app)
    assert add.added == [] and [p.name for p in app.service.people()] == ["Kit Harington"]


def test_after_opening_a_photo_enter_adds_it_rather_than_opening_another(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    add = open_window(app, "add")
    asked = []
    add.ask_image_path = lambda: asked.append(1) or FACES_DIR / "people/kit_harington/kit1.jpg"
    press(add.open_button, "space")  # no name yet: the name field is where to go next
    pump(app.root, lambda: add.preview.still is not None, what="the photo")
    assert app.root.focus_get() is add.name_entry
    type_into(add.name_entry, "Kit Harington")

    add.ask_image_path = lambda: asked.append(1) or FACES_DIR / "people/kit_harington/kit2.jpg"
    press(add.open_button, "space")
    pump(app.root, lambda: "kit2" in add.status.text and add.hint.ok, what="the second photo judged")
    press_where_focused(app.root, "Return")  # as the hint says: press Capture (Enter)
    pump(app.root, lambda: add.added, what="the add")
    assert asked == [1, 1] and add.added[0].ok
    assert [p.name for p in app.service.people()] == ["Kit Harington"]


def test_the_threshold_moved_with_keys_checks_again_and_space_still_captures(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Alex Lacamoire", "people/alex_lacamoire/alex1.png")
    check = open_window(app, "check")
    pump(app.root, lambda: check.preview.live, what="the camera")
    check.ask_image_path = lambda: FACES_DIR / "people/alex_lacamoire/alex2.jpg"  # a match at about 95
    press(check.open_button, "space")
    pump(app.root, lambda: check.results, what="the check of the photo")
    [face] = check.results
    assert face.name == "Alex Lacamoire" and face.similarity < 99

    press(check.threshold_scale, "End")  # the strictest threshold, from the keyboard: no mouse button released
    pump(app.root, lambda: check.results and check.results[0].name is None, what="the check at 99")
    assert names_in_history(check) == ["Unknown"]  # the photo's row, re-checked: not a second row
    press(check.threshold_scale, "Home")
    pump(app.root, lambda: check.results and check.results[0].name == "Alex Lacamoire", what="the check at 50")
    assert round(check.threshold.get()) == 50
    assert names_in_history(check) == ["Alex Lacamoire"]

    click(check.camera_button)
    rows = len(check.history.get_children())
    press_where_focused(app.root, "space")  # the slider still has the focus: Space captures the camera's picture
    pump(app.root, lambda: len(check.history.get_children()) > rows, what="the capture")
    assert names_in_history(check)[0] == "Unknown"


# The preview


def picture_area(image) -> tuple[int, int, int, int]:
    """The bounding box of what is not the preview's background: where the picture is drawn."""
    from PIL import Image, ImageChops

    background = Image.new("RGB", image.size, PREVIEW_BACKGROUND)
    box = ImageChops.difference(image, background).convert("L").point(lambda v: 255 if v > 12 else 0).getbbox()
    assert box is not None, "the preview shows nothing"
    return box


def has_colour_near(image, x: float, y: float, colour: tuple[int, int, int], radius: int = 4) -> bool:
    px = image.load()
    return any(
        px[i, j] == colour
        for i in range(max(0, int(x) - radius), min(image.width, int(x) + radius + 1))
        for j in range(max(0, int(y) - radius), min(image.height, int(y) + radius + 1))
    )


@pytest.mark.parametrize("size", ["1500x1100", "640x480"])
def test_the_preview_scales_with_the_window_letterboxed_with_boxes_on_the_picture(
    make_app, obama_video: Path, size: str
) -> None:
    from PIL import Image

    app = make_app(obama_video)
    enrol(app, "Barack Obama", "people/barack_obama/obama2.jpg")
    check = open_window(app, "check")
    photo = FACES_DIR / "people/barack_obama/obama3.jpg"
    check.ask_image_path = lambda: photo
    click(check.open_button)
    pump(app.root, lambda: check.results, what="the check")
    check.geometry(size)
    pump(app.root, lambda: abs(check.winfo_width() - int(size.split("x")[0])) < 2, what="the new size")
    idle(app)
    for _ in range(20):
        app.root.update()

    shown = grab(check.preview)
    left, top, right, bottom = picture_area(shown)
    width, height = Image.open(photo).size
    # Whole (never cropped), as large as fits (it touches two opposite sides), in its own proportions.
    assert left >= 0 and top >= 0 and right <= shown.width and bottom <= shown.height
    assert (right - left >= shown.width - 2) or (bottom - top >= shown.height - 2), (shown.size, (left, top))
    assert abs((right - left) / (bottom - top) - width / height) < 0.02
    face = check.results[0].box
    x = left + (face.left + face.width / 2) * (right - left)
    y = top + face.top * (bottom - top)
    assert has_colour_near(shown, x, y, BLUE), "no box over the face on the scaled picture"


def test_live_never_names_or_boxes_a_face_of_a_previous_picture(make_app, face_then_grey_video: Path) -> None:
    import time

    app = make_app(face_then_grey_video)
    enrol(app, "Barack Obama", "people/barack_obama/obama2.jpg")
    live = open_window(app, "live")
    boxed_faces, boxed_grey, named_grey = 0, 0, 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        app.root.update()
        shown = grab(live.preview)
        colours = shown.getcolors(maxcolors=1 << 20)
        counts = {colour: n for n, colour in colours}
        near_grey = sum(
            n for colour, n in counts.items() if max(abs(a - b) for a, b in zip(colour, GREY_SCENE, strict=True)) <= 6
        )
        grey = near_grey > shown.width * shown.height // 4  # the video's grey, give or take its compression
        if counts.get(BLUE, 0) > 20:
            boxed_grey += grey
            boxed_faces += not grey
        named_grey += grey and "Barack Obama" in live.status.text
    assert boxed_faces > 0, "Live never named the face"
    assert boxed_grey == 0, "a box of the face drawn over the next picture"
    assert named_grey == 0, "the status line named the face over the next picture"


# Messages


def test_a_face_too_small_says_come_closer_not_blurry(make_app, small_face_video: Path) -> None:
    # The camera path finds faces from about 50 px, and all of those are big enough to enrol: a face
    # smaller than that is not found, and the hint must then send the person closer, not tell them to
    # hold still.
    app = make_app(small_face_video)
    add = open_window(app, "add")
    pump(app.root, lambda: "closer" in add.hint_label.cget("text").casefold(), what="the advice to come closer")
    text = add.hint_label.cget("text")
    assert "blurry" not in text.casefold() and "hold still" not in text.casefold(), text
    assert all("blurry" not in o.label for o in add.hint.overlays)


def test_without_a_camera_no_window_waits_for_it_or_points_at_a_missing_button(make_app) -> None:
    app = make_app(7)  # no such device
    add = open_window(app, "add")
    pump(app.root, lambda: "No camera" in add.preview.message, what="the missing camera")
    pump(app.root, lambda: "Looking" not in add.hint_label.cget("text"), timeout=3, what="the hint to say so")
    assert "Open image" in add.hint_label.cget("text") + add.preview.message
    assert offered_but_disabled(add) == []
    check = open_window(app, "check")
    assert check.capture_button.instate(["disabled"])
    live = open_window(app, "live")
    pump(app.root, lambda: "No camera" in live.preview.message, what="the missing camera in Live")
    assert "Open image" not in live.preview.message and "Open image" not in live.status.text


def test_status_lines_never_offer_a_disabled_button(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    add = open_window(app, "add")
    pump(app.root, lambda: add.hint.overlays, what="a face in view")
    assert add.capture_button.instate(["disabled"])  # no name yet
    assert offered_but_disabled(add) == [], add.hint_label.cget("text")
    add.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit1.jpg"
    click(add.open_button)
    idle(app)
    assert offered_but_disabled(add) == [], (add.status.text, add.hint_label.cget("text"))
    type_into(add.name_entry, "Kit")
    pump(app.root, lambda: add.capture_button.instate(["!disabled"]), what="Capture")
    assert "Capture" in add.hint_label.cget("text")


def test_an_old_error_is_cleared_when_the_picture_changes(make_app, obama_video: Path, tmp_path: Path) -> None:
    from PIL import Image

    app = make_app(obama_video)
    empty = tmp_path / "wall.png"
    Image.new("RGB", (640, 480), (200, 190, 180)).save(empty)
    check = open_window(app, "check")
    check.ask_image_path = lambda: empty
    click(check.open_button)
    pump(app.root, lambda: check.status.is_error, what="the error")
    assert "No face" in check.status.text
    click(check.camera_button)
    app.root.update()
    assert not check.status.is_error and "No face" not in check.status.text

    # Add face: a photo that is not added; the error goes when the camera is back.
    add = open_window(app, "add")
    type_into(add.name_entry, "Kit")
    add.ask_image_path = lambda: FACES_DIR / "groups/kit_and_rose.jpg"
    click(add.open_button)
    pump(app.root, lambda: "Opened kit_and_rose" in add.status.text and "2 faces" in add.hint_label.cget("text"))
    add.status.say("Not added: 2 faces", error=True)  # as a failed add leaves it
    click(add.camera_button)
    app.root.update()
    assert not add.status.is_error


def test_unknown_faces_show_their_best_similarity(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Barack Obama", "people/barack_obama/obama2.jpg")
    check = open_window(app, "check")
    check.ask_image_path = lambda: FACES_DIR / "people/joe_biden/biden1.jpg"
    click(check.open_button)
    pump(app.root, lambda: check.results, what="the check")
    assert re.search(r"Unknown · best \d+%", check.status.text), check.status.text
    assert re.fullmatch(r"Unknown · best \d+%", check.preview.overlays[0].label)


def test_the_home_status_line_wraps_a_long_message(display: str) -> None:
    from botocore.exceptions import NoCredentialsError

    from facerec.gui.app import App
    from facerec.settings import load

    def no_credentials(_settings):
        raise NoCredentialsError()

    root = tk.Tk()
    try:
        settings = load(env_file=None, environ={"FACEREC_BACKEND": "aws", "AWS_REGION": "eu-west-1"})
        app = App(root, settings, no_credentials)
        pump(root, lambda: "No AWS credentials" in app.status.text, what="the message")
        for _ in range(10):
            root.update()
        assert tkfont.nametofont("TkDefaultFont").measure(app.status.text) > root.winfo_width()  # it needs two lines
        assert within(app.status, root)
        lines = app.status.winfo_height() // tkfont.nametofont("TkDefaultFont").metrics("linespace")
        assert lines >= 2, "the message is cut off on one line"
    finally:
        root.destroy()


# Closing early


@pytest.mark.parametrize("window", ["check", "add", "people", "live"])
def test_closing_a_window_while_it_works_raises_no_error(
    make_app, obama_video: Path, monkeypatch: pytest.MonkeyPatch, window: str
) -> None:
    from tkinter import messagebox

    shown = []
    monkeypatch.setattr(messagebox, "showerror", lambda *a, **k: shown.append(a))
    app = make_app(obama_video)
    enrol(app, "Barack Obama", "people/barack_obama/obama2.jpg")
    opened = open_window(app, window)
    if window == "check":
        opened.ask_image_path = lambda: FACES_DIR / "groups/obama_and_biden_1.jpg"
        click(opened.open_button)
        pump(app.root, lambda: opened._checking, what="the check to start")
    elif window == "add":
        type_into(opened.name_entry, "Barack Obama")
        pump(app.root, lambda: opened.capture_button.instate(["!disabled"]), what="Capture")
        press(opened.name_entry, "Return")
    elif window == "people":
        press(opened, "F5")
    elif window == "live":
        pump(app.root, lambda: app.tasks.busy, what="a check to start")
    assert app.tasks.busy, "nothing running when the window closes"
    press(opened, "Escape")
    idle(app)
    for _ in range(10):
        app.root.update()
    assert not opened.winfo_exists()
    assert shown == [] and app.status.cget("foreground") in ("", app.status.normal_colour), (shown, app.status.text)


# Look


def test_a_maintained_theme_and_no_clipped_column_headers(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    assert ttk.Style(app.root).theme_use().startswith("sun-valley")
    for key in ("check", "people"):
        window = open_window(app, key)
        window.update()
        tables = [w for w in all_widgets(window) if isinstance(w, ttk.Treeview)]
        assert tables
        for table in tables:
            heading_font = tkfont.nametofont(ttk.Style(table).lookup("Heading", "font") or "TkHeadingFont")
            for column in ("#0", *table.cget("columns")):
                if column == "#0" and "tree" not in str(table.cget("show")):
                    continue
                text = table.heading(column, "text")
                assert heading_font.measure(text) + 16 <= table.column(column, "width"), (key, text)


def all_widgets(widget) -> list:
    found = [widget]
    for child in widget.winfo_children():
        found += all_widgets(child)
    return found


# Duplicates


def test_enrolling_a_duplicate_asks_first_and_no_is_the_default(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Barack Obama", "people/barack_obama/obama2.jpg")
    add = open_window(app, "add")
    seen: list[str] = []

    # Someone else's face, from the camera: Enter takes the default answer, No.
    type_into(add.name_entry, "Someone Else")
    pump(app.root, lambda: add.capture_button.instate(["!disabled"]), what="Capture")
    answer_dialogs(app.root, ("<Return>",), seen=seen)
    press(add.name_entry, "Return")
    idle(app)
    assert len(seen) == 1 and "Barack Obama" in seen[0], seen
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Barack Obama", 1)]
    assert add.added == [] and add.capture_button.instate(["!disabled"])

    # A name that differs only in case and spaces, on another person's photo.
    add.name.set("")
    type_into(add.name_entry, "barack  obama")
    add.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit1.jpg"
    click(add.open_button)
    pump(
        app.root,
        lambda: "Opened kit1.jpg" in add.status.text and add.capture_button.instate(["!disabled"]),
        what="Capture",
    )
    answer_dialogs(app.root, ("<Escape>",), seen=seen)
    click(add.capture_button)
    idle(app)
    assert len(seen) == 2 and "Barack Obama" in seen[1], seen
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Barack Obama", 1)]

    # The same photo again under the same name: the person says Yes.
    add.name.set("Barack Obama")
    add.ask_image_path = lambda: FACES_DIR / "people/barack_obama/obama2.jpg"
    click(add.open_button)
    pump(app.root, lambda: "Opened obama2.jpg" in add.status.text and add.capture_button.instate(["!disabled"]))
    answer_dialogs(app.root, ("<Shift-Tab>", "<Return>"), seen=seen)
    click(add.capture_button)
    idle(app)
    pump(app.root, lambda: add.added, what="the add")
    assert len(seen) == 3 and "already enrolled" in seen[2], seen
    assert "two names" not in seen[2] and "second copy" in seen[2]  # one name: the risk is a copy, not a mix-up
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Barack Obama", 2)]


def test_a_picture_opened_during_a_check_gets_its_own_result(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Barack Obama", "people/barack_obama/obama2.jpg")
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    check = open_window(app, "check")
    photos = iter([FACES_DIR / "people/barack_obama/obama3.jpg", FACES_DIR / "people/kit_harington/kit2.jpg"])
    check.ask_image_path = lambda: next(photos)
    click(check.open_button)
    pump(app.root, lambda: check._checking, what="the first check")
    click(check.open_button)  # a second photo while the first is being checked
    idle(app)
    assert [f.name for f in check.results] == ["Kit Harington"]
    assert [o.label.split(" · ")[0] for o in check.preview.overlays] == ["Kit Harington"]
    assert names_in_history(check) == ["Kit Harington"]


# What the app says about photo files


def wall(folder: Path, size: tuple[int, int] = (640, 480)) -> Path:
    from PIL import Image

    path = folder / "wall.png"
    Image.new("RGB", size, (200, 190, 180)).save(path)
    return path


def cut_short(folder: Path, relative: str) -> Path:
    path = folder / Path(relative).name
    path.write_bytes((FACES_DIR / relative).read_bytes()[:-4000])
    return path


def test_a_photo_file_gets_advice_about_photos_not_the_camera(make_app, obama_video: Path, tmp_path: Path) -> None:
    app = make_app(obama_video)
    add = open_window(app, "add")
    type_into(add.name_entry, "Kit")
    add.ask_image_path = lambda: wall(tmp_path)
    click(add.open_button)
    pump(app.root, lambda: "No face" in add.hint_label.cget("text"), what="the hint on the photo")
    assert "in this photo" in add.hint_label.cget("text") and "camera" not in add.hint_label.cget("text")

    add.ask_image_path = lambda: FACES_DIR / "groups/kit_and_rose.jpg"
    click(add.open_button)
    pump(app.root, lambda: "2 faces in this photo" in add.hint_label.cget("text"), what="the hint on the group")


def test_a_photo_that_cannot_be_opened_says_why_and_puts_the_old_one_away(
    make_app, obama_video: Path, tmp_path: Path
) -> None:
    from PIL import Image

    app = make_app(obama_video)
    tiny = tmp_path / "tiny.jpg"
    Image.open(FACES_DIR / "people/kit_harington/kit1.jpg").resize((60, 60)).save(tiny)
    add = open_window(app, "add")
    type_into(add.name_entry, "Kit")
    for bad, message in [
        (tiny, "60x60 pixels: a photo needs at least 80"),
        (cut_short(tmp_path, "people/kit_harington/kit2.jpg"), "damaged or cut short"),
    ]:
        add.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit1.jpg"
        click(add.open_button)
        pump(app.root, lambda: add.capture_button.instate(["!disabled"]), what="the good photo, ready to add")
        add.ask_image_path = lambda bad=bad: bad
        click(add.open_button)
        pump(app.root, lambda: add.status.is_error, what="the error")
        assert message in add.status.text and "not an image" not in add.status.text
        assert add.preview.still is None and add.preview.live  # the camera again, not the photo before

    check = open_window(app, "check")
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    check.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit3.jpg"
    click(check.open_button)
    pump(app.root, lambda: check.results, what="the check")
    check.ask_image_path = lambda: tiny
    click(check.open_button)
    pump(app.root, lambda: check.status.is_error, what="the error")
    assert "60x60" in check.status.text
    assert check.preview.still is None and check.results == [] and not check.preview.overlays


def test_back_to_camera_forgets_the_last_answer(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    check = open_window(app, "check")
    pump(app.root, lambda: check.preview.live, what="the camera")
    check.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit3.jpg"
    click(check.open_button)
    pump(app.root, lambda: "Kit Harington" in check.status.text, what="the check")
    click(check.camera_button)
    app.root.update()
    assert "Kit" not in check.status.text and check.results == [] and not check.preview.overlays


def test_looking_for_a_face_is_not_shown_as_an_error(make_app, obama_video: Path, monkeypatch) -> None:
    import threading

    from facerec.gui import add_face
    from facerec.gui.widgets import ERROR_COLOUR

    judging = threading.Event()
    slow = add_face.enrolment_hint
    monkeypatch.setattr(add_face, "enrolment_hint", lambda *a: judging.wait(30) and slow(*a))
    app = make_app(obama_video)
    add = open_window(app, "add")
    pump(app.root, lambda: add.preview.live, what="the camera")
    assert add.hint_label.cget("text").startswith("Looking for a face")
    assert str(add.hint_label.cget("foreground")) != ERROR_COLOUR
    judging.set()
    pump(app.root, lambda: add.hint.message, what="the hint")


# Tooltips


def tooltips_on_screen(root) -> list:
    from tktooltip import ToolTip

    return [w for w in root.winfo_children() if isinstance(w, ToolTip) and w.winfo_exists() and w.winfo_viewable()]


def test_a_tooltip_goes_with_the_window_closed_by_esc(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    add = open_window(app, "add")
    pump(app.root, lambda: add.winfo_viewable(), what="the Add face window")
    add.open_button.event_generate("<Motion>", warp=True, x=5, y=5)  # the pointer rests on Open image…
    pump(app.root, lambda: tooltips_on_screen(app.root), what="the tooltip")
    [tip] = tooltips_on_screen(app.root)
    assert "photo file" in tip.msg
    press(add, "Escape")
    pump(app.root, lambda: add.closed, what="the window to close")
    for _ in range(150):  # tktooltip shows its tooltip again every second while it thinks it is wanted
        app.root.update()
        time.sleep(0.01)
    assert all(t.msg != tip.msg for t in tooltips_on_screen(app.root))


def test_esc_on_the_home_window_asks_before_quitting(make_app, obama_video: Path) -> None:
    from tests.gui.conftest import alive

    app = make_app(obama_video)
    check = open_window(app, "check")
    seen: list[str] = []
    answer_dialogs(app.root, ("<Escape>",), seen=seen)  # Esc again: the app stays
    press(app.root, "Escape")
    assert seen == ["Quit Face Recognizer?"] and alive(app.root) and check.winfo_exists()
    answer_dialogs(app.root, ("<Return>",), seen=seen)  # Enter takes the default, Yes
    press(app.root, "Escape")
    assert len(seen) == 2 and not alive(app.root)


def test_several_photos_are_added_at_once_each_with_its_outcome(make_app, obama_video: Path, tmp_path: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Rose Leslie", "people/rose_leslie/rose1.jpg")
    add = open_window(app, "add")
    assert add.photos_button.instate(["disabled"])  # no name yet
    type_into(add.name_entry, "Kit Harington")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    kit = FACES_DIR / "people/kit_harington"
    add.ask_image_paths = lambda: [
        kit / "kit1.jpg",
        notes,
        FACES_DIR / "people/rose_leslie/rose2.jpg",
        kit / "kit2.jpg",
    ]
    pump(app.root, lambda: add.photos_button.instate(["!disabled"]), what="Add several photos")
    press(add.photos_button, "space")
    pump(app.root, lambda: "Added 2 of 4 photos as Kit Harington" in add.status.text, what="the four outcomes")
    log = list(add.log.get(0, "end"))
    assert log[0] == "✓ kit1.jpg" and log[3] == "✓ kit2.jpg", log
    assert log[1].startswith("✗ notes.txt: ") and "not an image" in log[1], log
    assert log[2].startswith("✗ rose2.jpg: ") and "Rose Leslie" in log[2], log  # another's face: refused, not asked
    assert sorted((p.name, p.face_count) for p in app.service.people()) == [("Kit Harington", 2), ("Rose Leslie", 1)]
    assert add.photos_button.instate(["!disabled"]) and add.progress.cget("value") in (0, 0.0)

    # A folder: its JPEG and PNG photos, by name; what else it holds is not a photo to enrol.
    folder = tmp_path / "kit"
    folder.mkdir()
    (folder / "kit3.JPG").write_bytes((kit / "kit3.jpg").read_bytes())
    (folder / "notes.txt").write_text("not a photo")
    add.ask_folder = lambda: folder
    click(add.folder_button)
    pump(app.root, lambda: "Added 1 of 1 photo as Kit Harington" in add.status.text, what="the folder's photo")
    assert add.log.get("end") == "✓ kit3.JPG"
    assert [p.face_count for p in app.service.people() if p.name == "Kit Harington"] == [3]
    add.ask_folder = lambda: tmp_path / "kit" / "empty"
    (tmp_path / "kit" / "empty").mkdir()
    click(add.folder_button)
    pump(app.root, lambda: "empty has no JPEG or PNG photo in it" in add.status.text, what="the empty folder")


# From a picture to a name


def click_face(preview, box) -> None:
    """Click the middle of a face on the preview's still picture, where the letterboxed picture shows it."""
    from facerec.gui.drawing import fit

    label = preview.winfo_children()[0]
    size = (label.winfo_width(), label.winfo_height())
    width, height = fit(preview.still.size, size)
    x = (size[0] - width) / 2 + (box.left + box.width / 2) * width
    y = (size[1] - height) / 2 + (box.top + box.height / 2) * height
    label.event_generate("<ButtonPress-1>", x=round(x), y=round(y))
    label.event_generate("<ButtonRelease-1>", x=round(x), y=round(y))


def test_an_unknown_face_clicked_in_check_face_is_named_and_known_at_once(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    check = open_window(app, "check")
    check.ask_image_path = lambda: FACES_DIR / "groups/kit_and_rose.jpg"
    click(check.open_button)
    pump(app.root, lambda: len(check.results) == 2, what="the check")
    kit, rose = sorted(check.results, key=lambda f: f.name is None)
    assert kit.name == "Kit Harington" and rose.name is None
    click_face(check.preview, kit.box)  # a face with a name has nothing to add
    pump(app.root, lambda: check.picked is not None, what="the pick")
    assert check.name_button.instate(["disabled"])
    click_face(check.preview, rose.box)
    pump(app.root, lambda: check.name_button.instate(["!disabled"]), what="Add name offered")
    assert "Add name" in check.status.text

    asked = []
    check.ask_name = lambda: asked.append(1) or "Rose Leslie"
    check.focus_force()
    check.event_generate("<Control-KeyPress-n>", when="now")
    pump(app.root, lambda: {f.name for f in check.results} == {"Kit Harington", "Rose Leslie"}, what="the re-check")
    assert asked == [1]
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Kit Harington", 1), ("Rose Leslie", 1)]
    (rose_person,) = [p for p in app.service.people() if p.name == "Rose Leslie"]
    assert app.service.photo(rose_person.faces[0][1]) == (FACES_DIR / "groups/kit_and_rose.jpg").read_bytes()
    assert app.service.check((FACES_DIR / "people/rose_leslie/rose2.jpg").read_bytes())[0].name == "Rose Leslie"
    assert "Rose Leslie" in names_in_history(check)


def side_by_side(folder: Path, relatives: list[str], height: int = 360) -> Path:
    """One photo of several people: their photos next to each other, at one height."""
    from PIL import Image

    photos = [Image.open(FACES_DIR / r).convert("RGB") for r in relatives]
    photos = [p.resize((round(p.width * height / p.height), height)) for p in photos]
    joined = Image.new("RGB", (sum(p.width for p in photos), height))
    for index, p in enumerate(photos):
        joined.paste(p, (sum(q.width for q in photos[:index]), 0))
    path = folder / "together.jpg"
    joined.save(path, quality=92)
    return path


def test_a_face_is_picked_in_a_group_photo_by_click_or_arrow_keys_and_enrolled(
    make_app, obama_video: Path, tmp_path: Path
) -> None:
    from facerec.gui.drawing import face_at

    app = make_app(obama_video)
    enrol(app, "Kit Harington", "people/kit_harington/kit1.jpg")
    group = FACES_DIR / "groups/kit_and_rose.jpg"
    (rose,) = [f for f in app.service.check(group.read_bytes()) if f.name is None]
    add = open_window(app, "add")
    type_into(add.name_entry, "Rose Leslie")
    three = ["people/barack_obama/obama1.jpg", "people/joe_biden/biden1.jpg", "people/alex_lacamoire/alex1.png"]
    add.ask_image_path = lambda: side_by_side(tmp_path, three)
    click(add.open_button)
    pump(app.root, lambda: len(add.hint.pickable) == 3, what="the group's faces offered")
    assert "click the face" in add.hint_label.cget("text")
    assert add.capture_button.instate(["disabled"])  # three faces and none picked: nothing to enrol yet
    picked = []
    for key in ("Right", "Right", "Left", "Left"):  # the keys go through the faces in turn, and round
        press(add, key)
        picked.append(pump(app.root, lambda: add.hint.box not in picked[-1:] and add.hint.box, what=key))
    faces = sorted((add.hint.overlays[i].box for i in add.hint.pickable), key=lambda box: box.left)
    assert picked == [faces[0], faces[1], faces[0], faces[2]]  # left to right, as they stand

    add.ask_image_path = lambda: group
    click(add.open_button)
    pump(app.root, lambda: len(add.hint.pickable) == 2 and not add.hint.box, what="the second group's faces")
    centre = (rose.box.left + rose.box.width / 2, rose.box.top + rose.box.height / 2)
    click_face(add.preview, add.hint.overlays[face_at(list(add.hint.overlays), centre)].box)
    pump(app.root, lambda: add.capture_button.instate(["!disabled"]), what="Capture offered")
    assert "Face picked: press Capture" in add.hint_label.cget("text")
    press_where_focused(app.root, "Return")
    pump(app.root, lambda: add.added, what="the add")
    assert add.added[0].ok, add.added[0]
    assert [(p.name, p.face_count) for p in app.service.people()] == [("Kit Harington", 1), ("Rose Leslie", 1)]
    assert app.service.check((FACES_DIR / "people/rose_leslie/rose2.jpg").read_bytes())[0].name == "Rose Leslie"


def test_an_unknown_face_in_live_is_named_and_then_recognised(make_app, obama_video: Path) -> None:
    from PIL import Image

    app = make_app(obama_video)
    live = open_window(app, "live")
    pump(app.root, lambda: live.name_button.instate(["!disabled"]), what="Add name offered for the Unknown face")
    assert "Unknown" in live.status.text
    live.ask_name = lambda: "Barack Obama"
    live.focus_force()
    live.event_generate("<Control-KeyPress-n>", when="now")
    frame_size = app.camera.latest().pixels.shape[1::-1]

    def kept_size() -> tuple[int, int] | None:
        enrolled = app.service.people()
        key = enrolled[0].faces[0][1] if enrolled else None
        return key and Image.open(io.BytesIO(app.service.photo(key))).size

    # The whole camera picture is kept with the crop, once the add is done.
    pump(app.root, lambda: kept_size() == frame_size, what="the add, with the camera picture kept")
    pump(app.root, lambda: any(f.name == "Barack Obama" for f in live.results), what="the face recognised")
    pump(app.root, lambda: live.name_button.instate(["disabled"]), what="nobody Unknown in view now")
    ((_, key),) = app.service.people()[0].faces
    indexed = app.service.s3.get_object(Bucket=app.service.settings.s3_bucket_name, Key=key)["Body"].read()
    assert Image.open(io.BytesIO(indexed)).size < frame_size  # what was indexed is the face's crop
