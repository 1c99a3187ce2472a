"""People: everyone enrolled, searchable, with face count and a thumbnail; a person's photos beside them, one
removed or one added; rename a person, or delete one after a confirmation."""

from __future__ import annotations

import io
import tkinter as tk
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, simpledialog, ttk

from PIL import Image, ImageOps, ImageTk

from facerec.archive import ImportSummary, export_collection, import_collection, is_sealed
from facerec.errors import NameTaken, counted
from facerec.faces import upright
from facerec.gui.widgets import Tooltip, ask_warning, thumbnail_table
from facerec.gui.window import PAD, Window, WindowHost
from facerec.service import AddResult, DeleteResult, FaceService, Person, RenameResult, name_key

THUMBNAIL = (48, 48)
THUMBNAIL_MARGIN = 0.25  # of the face box, on each side
PHOTO_THUMBNAIL = (72, 72)


@dataclass(frozen=True)
class Row:
    person: Person
    thumbnail: Image.Image | None


@dataclass(frozen=True)
class PhotoRow:
    key: str  # the photo's key in the bucket
    faces: int
    thumbnail: Image.Image | None


def load_photos(service: FaceService, person: Person) -> list[PhotoRow]:
    """The person's photos, each whole as it was enrolled (off the main thread: it reads the bucket)."""
    keys = [key for _, key in person.faces]
    return [PhotoRow(key, keys.count(key), _photo_thumbnail(service, key)) for key in dict.fromkeys(keys)]


def _photo_thumbnail(service: FaceService, key: str) -> Image.Image | None:
    try:
        image = upright(Image.open(io.BytesIO(service.photo(key))))
    except Exception:  # a photo that cannot be shown can still be removed
        return None
    return ImageOps.contain(image.convert("RGB"), PHOTO_THUMBNAIL)


def matches(person: Person, search: str) -> bool:
    """Is the person one a search for `search` finds? Case and spaces aside, anywhere in the name."""
    return name_key(search) in name_key(person.name)


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

    def __init__(self, app: WindowHost) -> None:
        super().__init__(app, "760x560")
        self.rows: list[Row] = []
        self.photo_rows: list[PhotoRow] = []
        self._photos: list[ImageTk.PhotoImage] = []
        self._photo_images: list[ImageTk.PhotoImage] = []
        self._done = ""  # what was just done here, said with the list it changed
        self._keep: str | None = None  # the person to select again once the list is read again
        self._shown_person: Person | None = None  # whose photos are listed
        body = ttk.Frame(self, padding=PAD)
        body.pack(fill="both", expand=True)
        self._build_search(body)
        # The buttons are packed first, at the bottom, so that a short window shortens the tables, not them.
        self._build_buttons(body)
        panes = ttk.Frame(body)
        panes.pack(fill="both", expand=True)
        panes.columnconfigure(0, weight=3)
        panes.columnconfigure(1, weight=2)
        panes.rowconfigure(0, weight=1)
        self._build_people(panes).grid(row=0, column=0, sticky="nsew")
        self._build_photos(panes).grid(row=0, column=1, sticky="nsew", padx=(PAD, 0))
        self.bind("<Delete>", lambda _e: self.delete_selected())
        self.bind("<F5>", lambda _e: self.refresh())
        self.bind("<F2>", lambda _e: self.rename_selected())
        self.bind("<Control-f>", lambda _e: self.search_entry.focus_set())
        self.refresh()

    def _build_search(self, body: ttk.Frame) -> None:
        row = ttk.Frame(body)
        row.pack(fill="x", pady=(0, PAD // 2))
        ttk.Label(row, text="Search").pack(side="left")
        self.search = tk.StringVar()
        self.search_entry = ttk.Entry(row, textvariable=self.search)
        self.search_entry.pack(side="left", fill="x", expand=True, padx=(PAD // 2, 0))
        Tooltip(self.search_entry, "Show only the people whose name has this in it (Ctrl+F)")
        self.search.trace_add("write", lambda *_: self._fill_table(self._selected_name()))
        for key in ("<Down>", "<Return>"):
            self.search_entry.bind(key, lambda _e: self._to_results())

    def _to_results(self) -> str:
        """From the search to the people it found, the first selected unless one already is."""
        found = self.table.get_children()
        if found:
            chosen = self.table.selection() or found[:1]
            self.table.selection_set(chosen)
            self.table.focus(chosen[0])
            self.table.focus_set()
        return "break"

    def _build_buttons(self, body: ttk.Frame) -> None:
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
        self.import_button = ttk.Button(buttons, text="Import…", command=self.import_archive)
        self.import_button.pack(side="right")
        Tooltip(self.import_button, "Add the photos of a collection archive, as adds are made")
        self.export_button = ttk.Button(buttons, text="Export…", command=self.export_archive)
        self.export_button.pack(side="right", padx=PAD)
        Tooltip(self.export_button, "Write everyone's photos and names to one archive file (a backup, or to move)")
        self.progress = ttk.Progressbar(buttons, mode="determinate", length=80)
        self.progress.pack(side="right")

    def _build_people(self, parent: ttk.Frame) -> ttk.Frame:
        frame, self.table = thumbnail_table(parent, "People.Treeview", THUMBNAIL[1], "Name", (240, 60), height=4)
        self.table.bind("<<TreeviewSelect>>", lambda _e: self._selection_changed())
        return frame

    def _build_photos(self, parent: ttk.Frame) -> ttk.Frame:
        pane = ttk.Frame(parent)
        self.photos_label = ttk.Label(pane, text="Photos")
        self.photos_label.pack(anchor="w")
        buttons = ttk.Frame(pane)
        buttons.pack(side="bottom", fill="x", pady=(PAD // 2, 0))
        self.add_photo_button = ttk.Button(buttons, text="Add photo…", command=self.add_photo, state="disabled")
        self.add_photo_button.pack(side="left")
        Tooltip(self.add_photo_button, "Enrol another photo of the selected person")
        self.remove_photo_button = ttk.Button(
            buttons, text="Remove photo", command=self.remove_selected_photo, state="disabled"
        )
        self.remove_photo_button.pack(side="left", padx=(PAD // 2, 0))
        Tooltip(self.remove_photo_button, "Remove the selected photo and its face; the person's others stay (Delete)")
        frame, self.photo_table = thumbnail_table(
            pane, "Photos.Treeview", PHOTO_THUMBNAIL[1], "Photo", (140, 50), height=3
        )
        frame.pack(fill="both", expand=True)
        self.photo_table.bind("<<TreeviewSelect>>", lambda _e: self._photo_buttons())
        self.photo_table.bind("<Delete>", lambda _e: self.remove_selected_photo() or "break")
        return pane

    def refresh(self) -> None:
        if self.service is None:
            return
        self.status.say("Loading…")
        self._keep = self._keep or self._selected_name()
        self.run(lambda: load_rows(self.service), self._show)

    def _show(self, rows: list[Row]) -> None:
        if not self.winfo_exists():
            return
        self.rows = rows
        self._photos = [ImageTk.PhotoImage(row.thumbnail) if row.thumbnail else "" for row in rows]
        keep, self._keep = self._keep, None
        self._fill_table(keep)
        enrolled = f"{len(rows)} {'person' if len(rows) == 1 else 'people'} enrolled"
        self.status.say(f"{self._done} · {enrolled}" if self._done else enrolled)
        self._done = ""

    def _fill_table(self, keep: str | None) -> None:
        """The people the search finds, with `keep` selected again if it is one of them."""
        self.table.delete(*self.table.get_children())
        search = self.search.get()
        for index, row in enumerate(self.rows):
            if matches(row.person, search):
                self.table.insert(
                    "",
                    "end",
                    iid=str(index),
                    text=f"  {row.person.name}",
                    image=self._photos[index],
                    values=(row.person.face_count,),
                )
        kept = [iid for iid in self.table.get_children() if self.rows[int(iid)].person.name == keep]
        if kept:
            self.table.selection_set(kept)
            self.table.see(kept[0])
        self._selection_changed()

    def selected(self) -> Person | None:
        chosen = self.table.selection()
        return self.rows[int(chosen[0])].person if chosen else None

    def _selected_name(self) -> str | None:
        person = self.selected()
        return person.name if person else None

    def _selection_changed(self) -> None:
        person = self.selected()
        for button in (self.delete_button, self.rename_button, self.add_photo_button):
            button.state(["!disabled"] if person else ["disabled"])
        if person != self._shown_person:
            self._show_photos_of(person)

    # A person's photos

    def _show_photos_of(self, person: Person | None) -> None:
        self._shown_person = person
        self.photo_rows, self._photo_images = [], []
        self.photo_table.delete(*self.photo_table.get_children())
        self._photo_buttons()
        if person is None:
            self.photos_label.configure(text="Photos")
            return
        self.photos_label.configure(text=f"Photos of {person.name}")
        self.run(lambda: (person, load_photos(self.service, person)), self._photos_loaded)

    def _photos_loaded(self, loaded: tuple[Person, list[PhotoRow]]) -> None:
        person, rows = loaded
        if person != self._shown_person:
            return  # another person was selected meanwhile
        self.photo_rows = rows
        self._photo_images = [ImageTk.PhotoImage(row.thumbnail) if row.thumbnail else "" for row in rows]
        for index, row in enumerate(rows):
            self.photo_table.insert(
                "", "end", iid=str(index), text=f"  {index + 1}", image=self._photo_images[index], values=(row.faces,)
            )
        self._photo_buttons()

    def selected_photo(self) -> PhotoRow | None:
        chosen = self.photo_table.selection()
        return self.photo_rows[int(chosen[0])] if chosen else None

    def _photo_buttons(self) -> None:
        self.remove_photo_button.state(["!disabled"] if self.selected_photo() else ["disabled"])

    def confirm_remove(self, person: Person, photo: PhotoRow) -> bool:
        """Ask before removing a photo; tests replace this method."""
        last = "It is their only photo: they will no longer be enrolled. " if len(self.photo_rows) == 1 else ""
        return ask_warning(
            self, "Remove photo", f"Remove this photo of {person.name} and its {counted(photo.faces, 'face')}? {last}"
        )

    def remove_selected_photo(self) -> None:
        person, photo = self._shown_person, self.selected_photo()
        if person is None or photo is None or not self.confirm_remove(person, photo):
            return
        self.remove_photo_button.state(["disabled"])
        self.status.say(f"Removing a photo of {person.name}…")
        self.run(lambda: self.service.remove_photo(photo.key), self._photo_removed)

    def _photo_removed(self, result: DeleteResult) -> None:
        self._done = f"Removed a photo of {result.name}: {counted(result.faces, 'face')}"
        self._changed(result.name)

    def add_photo(self) -> None:
        person = self.selected()
        path = self.ask_image_path() if person is not None else None
        if path is None:
            return
        self.add_photo_button.state(["disabled"])
        self.status.say(f"Adding {path.name} to {person.name}…")

        def failed(error: BaseException) -> None:
            self._selection_changed()
            self.app.show_error(error, self.status)

        self.enrol(person.name, path, None, self._photo_added, failed)

    def _photo_added(self, result: AddResult) -> None:
        if result.ok:
            self._done = f"Added a photo of {result.name}"
        elif result.pending:
            self._done = f"{result.name}: {result.message}"
        else:
            self._selection_changed()
            self.status.say(f"Not added: {result.message}", error=True)
            return
        self._changed(result.name)

    def _changed(self, name: str) -> None:
        """The enrolment changed here: the lists are read again, with `name` selected as before."""
        self._keep = name
        self._shown_person = None  # their photos are read again too
        self.app.enrolment_changed()

    def confirm(self, person: Person) -> bool:
        """Ask before deleting; tests replace this method."""
        return ask_warning(
            self,
            "Delete person",
            f"Delete {person.name}? Their {counted(person.face_count, 'face')}, their name and their photos "
            "will be removed.",
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
        self._shown_person = None
        self.app.enrolment_changed()

    # Rename

    def ask_new_name(self, person: Person) -> str | None:
        """The name typed for `person`, or None when cancelled; tests replace this method."""
        return simpledialog.askstring("Rename", f"New name for {person.name}:", initialvalue=person.name, parent=self)

    def confirm_merge(self, person: Person, error: NameTaken) -> bool:
        """Ask before making two enrolled people one; No is the default answer."""
        return ask_warning(
            self,
            "Merge people",
            f"{error} Make {person.name} and them one person? Check face will answer their name for both's faces.",
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
        self._changed(result.new)

    # The whole collection to an archive and back

    def ask_archive_path(self, saving: bool) -> Path | None:
        """The file dialog for an archive; tests replace this method."""
        types = [("Collection archives", "*.facerec *.zip"), ("All files", "*")]
        if saving:
            chosen = filedialog.asksaveasfilename(
                parent=self, title="Export", defaultextension=".facerec", filetypes=types
            )
        else:
            chosen = filedialog.askopenfilename(parent=self, title="Import", filetypes=types)
        return Path(chosen) if chosen else None

    def ask_passphrase(self, saving: bool) -> str | None:
        """The archive's passphrase ("" for none when saving; None when cancelled); tests replace this method."""
        prompt = "A passphrase to protect the archive (leave it empty for none):" if saving else "The passphrase:"
        return simpledialog.askstring("Passphrase", prompt, show="•", parent=self)

    def export_archive(self) -> None:
        path = self.ask_archive_path(saving=True)
        passphrase = self.ask_passphrase(saving=True) if path else None
        if path is None or passphrase is None:
            return
        self._archive_work(
            "Exporting…",
            lambda progress: export_collection(self.service, path, passphrase or None, progress),
            lambda entries: f"Exported {counted(len(entries), 'photo')} to {path.name}",
        )

    def import_archive(self) -> None:
        path = self.ask_archive_path(saving=False)
        if path is None:
            return
        self.run(lambda: is_sealed(path), lambda sealed: self._import(path, sealed))

    def _import(self, path: Path, sealed: bool) -> None:
        passphrase = self.ask_passphrase(saving=False) if sealed else None
        if sealed and not passphrase:
            return
        self._archive_work(
            "Importing…",
            lambda progress: import_collection(self.service, path, passphrase, progress=progress),
            imported_note,
        )

    def _archive_work(self, doing: str, work, note) -> None:
        """Export or import on a worker, its progress on the bar, its outcome in the status line."""
        for button in (self.export_button, self.import_button):
            button.state(["disabled"])
        self.status.say(doing)
        self.progress.configure(value=0, maximum=1)
        show = self._while_open(lambda step: self.progress.configure(value=step[0], maximum=max(1, step[1])))
        progress = self.app.tasks.news(show)

        def finished() -> None:
            for button in (self.export_button, self.import_button):
                button.state(["!disabled"])
            self.progress.configure(value=0)

        def done(result) -> None:
            finished()
            self._done = note(result)
            self.app.enrolment_changed()

        def failed(error: BaseException) -> None:
            finished()
            self.app.show_error(error, self.status)

        self.run(lambda: work(lambda done_, total, _what: progress((done_, total))), done, failed)


def imported_note(summary: ImportSummary) -> str:
    """What an import did, in one line, with the first reason a photo was refused."""
    note = (
        f"Imported {len(summary.imported)} of {counted(summary.total, 'photo')}: {len(summary.already)} already "
        f"there, {len(summary.pending)} still indexing, {len(summary.refused)} refused"
    )
    return f"{note} ({summary.refused[0][1]})" if summary.refused else note
