"""People: everyone enrolled, with face count and a thumbnail; rename a person, or delete one after a confirmation."""

from __future__ import annotations

import io
from dataclasses import dataclass
from tkinter import messagebox, simpledialog, ttk

from PIL import Image, ImageOps, ImageTk

from facerec.errors import NameTaken, counted
from facerec.faces import upright
from facerec.gui.widgets import Tooltip, fit_headings, scrolled_table
from facerec.gui.window import PAD, Window
from facerec.service import DeleteResult, FaceService, Person, RenameResult

THUMBNAIL = (48, 48)
THUMBNAIL_MARGIN = 0.25  # of the face box, on each side


@dataclass(frozen=True)
class Row:
    person: Person
    thumbnail: Image.Image | None


def load_rows(service: FaceService) -> list[Row]:
    """Everyone, with a thumbnail of their first photo (off the main thread: it reads the bucket)."""
    return [Row(person, _thumbnail(service, person)) for person in service.people()]


def _thumbnail(service: FaceService, person: Person) -> Image.Image | None:
    """The person's first enrolled face, cropped from its photo with a margin."""
    if not person.faces:
        return None
    face_id, key = person.faces[0]
    try:
        box = service.face_box(face_id)
        body = service.s3.get_object(Bucket=service.settings.s3_bucket_name, Key=key)["Body"]
        image = upright(Image.open(io.BytesIO(body.read())))
    except Exception:  # a missing thumbnail must not hide the person
        return None
    if box is not None:
        image = box.crop(image, THUMBNAIL_MARGIN)
    return ImageOps.fit(image, THUMBNAIL)


class PeopleWindow(Window):
    title_text = "People"

    def __init__(self, app) -> None:
        super().__init__(app, "640x520")
        self.rows: list[Row] = []
        self._photos: list[ImageTk.PhotoImage] = []
        self._done = ""  # what was just done here, said with the list it changed
        body = ttk.Frame(self, padding=PAD)
        body.pack(fill="both", expand=True)
        # The buttons are packed first, at the bottom, so that a short window shortens the table, not them.
        buttons = ttk.Frame(body)
        buttons.pack(side="bottom", fill="x", pady=(PAD, 0))
        self.delete_button = ttk.Button(buttons, text="Delete…", command=self.delete_selected, state="disabled")
        self.delete_button.pack(side="left")
        Tooltip(self.delete_button, "Delete the selected person: faces, names and photos (Delete)")
        self.rename_button = ttk.Button(buttons, text="Rename…", command=self.rename_selected, state="disabled")
        self.rename_button.pack(side="left", padx=(PAD, 0))
        Tooltip(self.rename_button, "Give the selected person another name; their faces stay (F2)")
        self.refresh_button = ttk.Button(buttons, text="Refresh", command=self.refresh)
        self.refresh_button.pack(side="left", padx=PAD)
        Tooltip(self.refresh_button, "Read the list again (F5)")
        ttk.Style(self).configure("People.Treeview", rowheight=THUMBNAIL[1] + 6)
        frame, self.table = scrolled_table(
            body, columns=("faces",), style="People.Treeview", selectmode="browse", height=4
        )
        self.table.heading("#0", text="Name")
        self.table.heading("faces", text="Faces")
        self.table.column("#0", width=360)
        self.table.column("faces", width=80, anchor="center")
        fit_headings(self.table)
        frame.pack(fill="both", expand=True)
        self.table.bind("<<TreeviewSelect>>", lambda _e: self._selection_changed())
        self.bind("<Delete>", lambda _e: self.delete_selected())
        self.bind("<F5>", lambda _e: self.refresh())
        self.bind("<F2>", lambda _e: self.rename_selected())
        self.refresh()

    def refresh(self) -> None:
        if self.service is None:
            return
        self.status.say("Loading…")
        self.run(lambda: load_rows(self.service), self._show)

    def _show(self, rows: list[Row]) -> None:
        if not self.winfo_exists():
            return
        self.rows = rows
        self.table.delete(*self.table.get_children())
        self._photos = []
        for index, row in enumerate(rows):
            photo = ImageTk.PhotoImage(row.thumbnail) if row.thumbnail else ""
            if photo:
                self._photos.append(photo)
            self.table.insert(
                "", "end", iid=str(index), text=f"  {row.person.name}", image=photo, values=(row.person.face_count,)
            )
        enrolled = f"{len(rows)} {'person' if len(rows) == 1 else 'people'} enrolled"
        self.status.say(f"{self._done} · {enrolled}" if self._done else enrolled)
        self._done = ""
        self._selection_changed()

    def selected(self) -> Person | None:
        chosen = self.table.selection()
        return self.rows[int(chosen[0])].person if chosen else None

    def _selection_changed(self) -> None:
        for button in (self.delete_button, self.rename_button):
            button.state(["!disabled"] if self.selected() else ["disabled"])

    def confirm(self, person: Person) -> bool:
        """Ask before deleting; tests replace this method."""
        return messagebox.askyesno(
            "Delete person",
            f"Delete {person.name}? Their {counted(person.face_count, 'face')}, their name and their photos "
            "will be removed.",
            default=messagebox.NO,
            icon=messagebox.WARNING,
            parent=self,
        )

    def delete_selected(self) -> None:
        person = self.selected()
        if person is None or not self.confirm(person):
            return
        self.delete_button.state(["disabled"])
        self.status.say(f"Deleting {person.name}…")
        self.run(lambda: self.service.delete(person.name), self._deleted)

    def _deleted(self, result: DeleteResult) -> None:
        self._done = f"Deleted {result.name}: {counted(result.faces, 'face')}, {counted(result.images, 'photo')}"
        self.app.enrolment_changed()

    # Rename

    def ask_new_name(self, person: Person) -> str | None:
        """The name typed for `person`, or None when cancelled; tests replace this method."""
        return simpledialog.askstring("Rename", f"New name for {person.name}:", initialvalue=person.name, parent=self)

    def confirm_merge(self, person: Person, error: NameTaken) -> bool:
        """Ask before making two enrolled people one; No is the default answer."""
        return messagebox.askyesno(
            "Merge people",
            f"{error} Make {person.name} and them one person? Check face will answer their name for both's faces.",
            default=messagebox.NO,
            parent=self,
        )

    def rename_selected(self) -> None:
        person = self.selected()
        new = self.ask_new_name(person) if person is not None else None
        if new:
            self._rename(person, new, merge=False)

    def _rename(self, person: Person, new: str, merge: bool) -> None:
        self.rename_button.state(["disabled"])
        self.status.say(f"Renaming {person.name}…")

        def failed(error: BaseException) -> None:
            if isinstance(error, NameTaken) and not merge and self.confirm_merge(person, error):
                self._rename(person, new, merge=True)
                return
            self._selection_changed()
            self.app.show_error(error, self.status)

        self.run(lambda: self.service.rename(person.name, new, merge=merge), self._renamed, failed)

    def _renamed(self, result: RenameResult) -> None:
        self._done = f"Renamed {result.old} to {result.new}"
        self.app.enrolment_changed()
