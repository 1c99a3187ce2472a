"""The desktop app driven as a person would: type, press keys and buttons, read what the windows show."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FACES_DIR
from tests.gui.conftest import HeldCamera, pump


def names_in_history(window) -> list[str]:
    return [window.history.item(row, "values")[1] for row in window.history.get_children()]


def test_enrol_two_people_check_a_photo_and_delete_one(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    root = app.root

    # Barack Obama from the camera: type the name, wait for the green box, press Enter.
    app.buttons["add"].invoke()
    add = app.windows["add"]
    add.name_entry.focus_force()
    add.name.set("Barack Obama")
    pump(root, lambda: add.capture_button.instate(["!disabled"]), what="a usable face in the preview")
    assert add.hint.ok and add.hint.overlays[0].color == (46, 160, 67)
    add.name_entry.event_generate("<KeyPress-Return>")
    pump(root, lambda: add.added, what="the add to finish")
    assert add.added[-1].ok and add.status.text == "Added Barack Obama"

    # Joe Biden from a photo file.
    add.ask_image_path = lambda: FACES_DIR / "people/joe_biden/biden1.jpg"
    add.open_file()
    add.name.set("Joe Biden")
    pump(root, lambda: add.preview.still is not None and add.capture_button.instate(["!disabled"]))
    add.capture_button.invoke()
    pump(root, lambda: len(add.added) == 2, what="the second add")
    assert add.status.text == "Added Joe Biden"
    add.event_generate("<Escape>", when="tail")
    pump(root, lambda: not add.winfo_exists(), what="Esc to close the window")

    # A third photo, of both of them: each face gets its name.
    app.buttons["check"].invoke()
    check = app.windows["check"]
    check.ask_image_path = lambda: FACES_DIR / "groups/obama_and_biden_1.jpg"
    check.open_file()
    pump(root, lambda: check.results, what="the check")
    assert sorted(names_in_history(check)) == ["Barack Obama", "Joe Biden"]
    assert "Barack Obama" in check.status.text and "Joe Biden" in check.status.text

    # People: both listed with thumbnails; delete Joe Biden after confirming.
    app.buttons["people"].invoke()
    people = app.windows["people"]
    pump(root, lambda: len(people.rows) == 2, what="the people list")
    assert [(r.person.name, r.person.face_count) for r in people.rows] == [("Barack Obama", 1), ("Joe Biden", 1)]
    assert all(r.thumbnail is not None for r in people.rows)
    asked = []
    people.confirm = lambda person: asked.append(person.name) or True
    people.table.selection_set("1")
    pump(root, lambda: people.delete_button.instate(["!disabled"]))
    people.delete_button.invoke()
    pump(root, lambda: len(people.rows) == 1, what="the delete")
    assert asked == ["Joe Biden"] and people.rows[0].person.name == "Barack Obama"
    pump(root, lambda: "1 person enrolled" in app.status.text, what="the status after the delete")

    # Joe Biden is no longer recognised.
    check.open_file()
    pump(root, lambda: names_in_history(check).count("Unknown") == 1, what="the second check")


def test_live_draws_names_over_faces(make_app, obama_video: Path) -> None:
    app = make_app(obama_video)
    assert app.service.add("Barack Obama", (FACES_DIR / "people/barack_obama/obama2.jpg").read_bytes()).ok
    app.buttons["live"].invoke()
    live = app.windows["live"]
    pump(app.root, lambda: live.checks_done >= 2, what="two live checks")
    assert [f.name for f in live.results] == ["Barack Obama"]
    assert live.preview.overlays[0].label.startswith("Barack Obama")
    assert live.preview.frames_shown > live.checks_done  # the preview runs ahead of recognition


def test_a_missing_camera_is_explained_and_files_still_work(make_app) -> None:
    app = make_app(7)  # no such device
    app.buttons["add"].invoke()
    add = app.windows["add"]
    pump(app.root, lambda: "No camera" in add.preview._label.cget("text"), what="the missing camera message")
    assert "Open image" in add.preview._label.cget("text")
    add.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit1.jpg"
    add.open_file()
    add.name.set("Kit Harington")
    pump(app.root, lambda: add.capture_button.instate(["!disabled"]))
    add.capture()
    pump(app.root, lambda: add.added)
    assert add.added[0].ok

    app.buttons["check"].invoke()
    check = app.windows["check"]
    check.capture()
    assert "Open image" in check.status.text
    check.ask_image_path = lambda: FACES_DIR / "people/kit_harington/kit2.jpg"
    check.open_file()
    pump(app.root, lambda: check.results)
    assert names_in_history(check) == ["Kit Harington"]


def test_bad_input_is_explained_in_the_window(make_app, obama_video: Path, tmp_path: Path) -> None:
    app = make_app(obama_video)
    app.buttons["add"].invoke()
    add = app.windows["add"]
    add.name.set("x" * 300)
    pump(app.root, lambda: add.hint.ok, what="a usable face")
    assert add.capture_button.instate(["disabled"])
    assert "300 characters" in add.name_note.cget("text")

    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    app.buttons["check"].invoke()
    check = app.windows["check"]
    # As a person does: the window shows the camera, then the file is opened.
    pump(app.root, lambda: check.preview.live, what="the camera in Check face")
    check.ask_image_path = lambda: text
    check.open_file()
    pump(app.root, lambda: "not an image" in check.status.text, what="the error in the status line")
    assert check.results == []


def test_an_error_about_a_file_stays_when_the_camera_is_found(make_app, obama_video: Path, tmp_path: Path) -> None:
    camera = HeldCamera(obama_video)
    app = make_app(camera)
    app.buttons["check"].invoke()
    check = app.windows["check"]
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    check.ask_image_path = lambda: text
    check.open_file()
    pump(app.root, lambda: "not an image" in check.status.text, what="the error in the status line")

    camera.release()  # the camera opens while the error is on screen: the error is still true
    pump(app.root, lambda: check.preview.frames_shown > 0, what="the camera in Check face")
    assert check.status.is_error and "not an image" in check.status.text

    camera.hold()  # lost: Capture has nothing to capture, and says so until the camera is back
    pump(app.root, lambda: not check.preview.live and check.preview.message, what="the camera lost")
    check.capture()
    assert check.status.is_error and "No camera picture" in check.status.text
    camera.release()
    pump(app.root, lambda: not check.status.is_error, what="the camera error cleared")
