"""`python -m facerec`: add, check, people, delete, rename, reindex, export, import, migrate, the engine demo,
serve and prepare.

Exit codes: 0 success, 1 a user error (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from facerec.errors import DuplicateEnrolment, InvalidImage, UserError, counted, describe
from facerec.settings import ModelSettings, Settings, SettingsError, load


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m facerec", description="Enrol faces by name and recognise them.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser("add", help="enrol a person from one or more photos, or every photo in a folder")
    add.add_argument("name", help="the person's name")
    add.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="a photo, or a folder of photos")
    add.add_argument(
        "--allow-duplicate",
        action="store_true",
        help="enrol even a face enrolled under another name, a photo enrolled already, or a name that differs "
        "from an enrolled one only in case or spaces",
    )
    check = commands.add_parser("check", help="say who is in a photo")
    check.add_argument("image", type=Path)
    check.add_argument("--json", action="store_true", help="print a JSON object")
    check.add_argument(
        "--threshold", type=percentage, help="smallest similarity for a match, 0-100 (default: settings)"
    )
    people = commands.add_parser("people", help="list everyone enrolled")
    people.add_argument("--json", action="store_true", help="print a JSON list")
    delete = commands.add_parser("delete", help="delete a person: faces, table items and images")
    delete.add_argument("name")
    rename = commands.add_parser("rename", help="give a person another name (their faces stay as they are)")
    rename.add_argument("old")
    rename.add_argument("new")
    rename.add_argument("--merge", action="store_true", help="when NEW is someone enrolled, make the two one person")
    reindex = commands.add_parser("reindex", help="index images that have no outcome and remove orphans")
    reindex.add_argument(
        "--now", action="store_true", help="also redo adds from the last 2 minutes (only when none is running)"
    )
    export = commands.add_parser("export", help="write the whole collection (photos and names) to one archive file")
    export.add_argument("file", type=Path)
    imports = commands.add_parser("import", help="add the photos of an archive through the normal pipeline")
    imports.add_argument("file", type=Path)
    imports.add_argument("--merge", action="store_true", help="add to someone enrolled already with other photos")
    migrate = commands.add_parser("migrate", help="move the collection to the other back end (export and import)")
    migrate.add_argument("--to", choices=("aws", "local"), required=True, help="the back end to move to")
    migrate.add_argument("--dry-run", action="store_true", help="say what would move and what it would cost")
    migrate.add_argument("--merge", action="store_true", help="add to people enrolled there already")
    for command in (export, imports):
        command.add_argument(
            "--passphrase", action="store_true", help="protect the archive with a passphrase (asked for)"
        )
        command.add_argument("--passphrase-file", type=Path, help="read the passphrase from this file")
    demo = commands.add_parser("demo", help="show the local engine telling people apart in photos")
    demo.add_argument(
        "faces",
        nargs="?",
        type=Path,
        help="a folder with a subfolder of photos per person (and groups/ of photos of several); "
        "without it, the photos enrolled",
    )
    commands.add_parser("prepare", help="make the converted face models in the cache folder (set-up does it)")
    serve = commands.add_parser("serve", help="serve the local Rekognition engine over HTTP (Rekognition's protocol)")
    serve.add_argument("--port", type=int, default=4599, help="TCP port (0: any free port; default 4599)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow an address other machines can reach (prints a warning)"
    )
    serve.add_argument(
        "--read-timeout", type=float, default=20.0, help="seconds for a request to arrive whole (default 20)"
    )
    return top


def percentage(text: str) -> float:
    """A number from 0 to 100 (argparse turns the ValueError into a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 100") from None
    if not 0 <= value <= 100:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is outside 0-100")
    return value


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = parser().parse_args(argv)
    try:
        if args.command == "demo":
            return run_demo(_demo_photos(args.faces), out, load())
        if args.command == "serve":
            return cmd_serve(args, out)
        if args.command == "prepare":
            return cmd_prepare(load().models, out)
        from facerec.service import open_service

        with open_service() as service:
            return COMMANDS[args.command](service, args, out, err)
    except (UserError, SettingsError, ClientError, BotoCoreError, OSError) as exc:
        print(f"error: {describe(exc)}", file=err)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 1


def cmd_prepare(models: ModelSettings, out: TextIO) -> int:
    """Convert the face models the settings choose, once: later runs find them in the cache folder."""
    from facerec.faces import prepare_models

    for path in prepare_models(models):
        print(path, file=out)
    return 0


def cmd_add(service, args, out: TextIO, err: TextIO) -> int:
    """Add the photos on every core, with a progress bar that shows the rate."""
    from facerec.bulk import add_photos
    from facerec.service import validate_name

    validate_name(args.name)
    paths = [photo for path in args.images for photo in _photos_in(path)]
    photos = [(str(path), _read(path)) for path in paths]
    if not args.allow_duplicate:
        # A file that is no image is no duplicate: add_photos lists it as not added, and adds the others.
        _refuse_duplicates(service, args.name, [photo for photo in photos if _is_image(*photo)])

    bar = _progress_bar(err, len(photos), unit=" photos", disable=len(photos) <= 1)

    def report(progress) -> None:
        if progress.result and progress.result.pending:
            bar.write(f"{Path(progress.source).name}: {progress.result.message}", file=err)
        elif progress.error or (progress.result and not progress.result.ok):
            reason = progress.error or progress.result.message
            bar.write(f"{Path(progress.source).name}: not added: {reason}", file=err)
        bar.set_postfix_str(Path(progress.source).name, refresh=False)
        bar.update()

    with bar:
        outcomes = add_photos(service.settings, args.name, photos, on_progress=report)
    print(add_summary(service_name(args.name), outcomes), file=out)
    return 0 if any(o.result and o.result.ok for o in outcomes) else 1


def _is_image(source: str, data: bytes) -> bool:
    from facerec.service import prepare_image

    try:
        prepare_image(data, source=Path(source).name)
    except InvalidImage:
        return False
    return True


def add_summary(name: str, outcomes: list) -> str:
    """Which photo was added, or for several how many, then which were added, still indexing and not added."""
    groups: dict[str, list[str]] = {"added": [], "still indexing": [], "not added": []}
    for outcome in sorted(outcomes, key=lambda o: o.source):
        result = outcome.result
        group = "added" if result and result.ok else "still indexing" if result and result.pending else "not added"
        groups[group].append(Path(outcome.source).name)
    if len(outcomes) == 1:  # one photo: say which, and leave a refusal to its line on stderr
        group, (file,) = next((group, files) for group, files in groups.items() if files)
        return f"Added {file} as {name}" if group == "added" else f"{file}: {group}"
    lines = [f"Added {len(groups['added'])} of {len(outcomes)} photos of {name}"]
    lines += [f"  {group}: {', '.join(files)}" for group, files in groups.items() if files]
    return "\n".join(lines)


def _photos_in(path: Path) -> list[Path]:
    """A photo as given, or the photos of a folder (JPEG and PNG files, by name)."""
    if not path.is_dir():
        return [path]
    photos = _images(path)
    if not photos:
        raise UserError(f"{path} is a folder with no JPEG or PNG photo in it")
    return photos


def _refuse_duplicates(service, name: str, photos: list[tuple[str, bytes]]) -> None:
    """DuplicateEnrolment for the first photo that repeats an enrolled face, photo or name, or another photo given."""
    import hashlib

    seen: dict[str, str] = {}
    for source, data in photos:
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            raise DuplicateEnrolment(
                f"{Path(source).name} is the same photo as {Path(seen[digest]).name}; "
                "add --allow-duplicate to enrol it anyway"
            )
        seen[digest] = source
        found = service.find_duplicates(name, data, source=Path(source).name, check_name=len(seen) == 1)
        if found:
            raise DuplicateEnrolment(
                f"{Path(source).name}: {found[0].message} Not added; add --allow-duplicate to enrol it anyway"
            )


def cmd_check(service, args, out: TextIO, err: TextIO) -> int:
    faces = service.check(_read(args.image), threshold=args.threshold, source=str(args.image))
    if args.json:
        json.dump({"faces": [_face_json(f) for f in faces]}, out, ensure_ascii=False)
        out.write("\n")
    else:
        for face in faces:
            print(_who(face), file=out)
    if not faces:  # nobody in the photo is not "somebody unknown": a script tells them by the exit code
        raise UserError(f"no face found in {args.image}")
    return 0


def _who(face) -> str:
    if face.name:
        return f"{face.name} (similarity {face.similarity:.1f})"
    return "Unknown" + (f" (nearest enrolled face: similarity {face.best:.1f})" if face.best is not None else "")


def cmd_people(service, args, out: TextIO, err: TextIO) -> int:
    people = service.people()
    if args.json:
        json.dump([{"name": p.name, "faces": p.face_count} for p in people], out, ensure_ascii=False)
        out.write("\n")
    elif not people:
        print("Nobody is enrolled yet.", file=out)
    else:
        for person in people:
            print(f"{person.name}\t{counted(person.face_count, 'face')}", file=out)
    return 0


def cmd_delete(service, args, out: TextIO, err: TextIO) -> int:
    result = service.delete(args.name)
    print(f"Deleted {result.name}: {counted(result.faces, 'face')}, {counted(result.images, 'image')}", file=out)
    return 0


def cmd_rename(service, args, out: TextIO, err: TextIO) -> int:
    result = service.rename(args.old, args.new, merge=args.merge)
    joined = f", joining {result.new}'s" if result.merged else ""
    print(f"Renamed {result.old} to {result.new}: {counted(result.faces, 'face')}{joined}", file=out)
    return 0


def cmd_reindex(service, args, out: TextIO, err: TextIO) -> int:
    result = service.reindex(grace=0.0) if args.now else service.reindex()
    print(
        f"Indexed {len(result.indexed)} images, {len(result.failed)} without a usable face; removed "
        f"{result.orphan_faces_removed} faces without a name and {result.orphan_items_removed} names without a face",
        file=out,
    )
    if result.in_flight:
        print(
            f"Left {len(result.in_flight)} recent uploads alone: they may still be indexing "
            "(run again in 2 minutes, or with --now if nothing else is running)",
            file=out,
        )
    return 0


def cmd_serve(args, out: TextIO) -> int:
    """Serve the local engine until interrupted (facerec.server); the first line printed gives its URL."""
    from facerec.server import Limits, serve

    if args.read_timeout <= 0:
        raise UserError("--read-timeout must be more than 0 seconds")
    serve(  # NotLoopback is a UserError: said as the others are
        host=args.host,
        port=args.port,
        out=out,
        allow_remote=args.allow_remote,
        limits=Limits(read_timeout=args.read_timeout),
    )
    return 0


def cmd_export(service, args, out: TextIO, err: TextIO) -> int:
    from facerec.archive import export_collection

    passphrase = _passphrase(args, twice=True)
    entries = export_collection(service, args.file, passphrase, _progress_to(err, "exporting"))
    people = len({e.name for e in entries})
    sealed = ", protected by the passphrase" if passphrase else ""
    print(f"Exported {counted(len(entries), 'photo')} of {counted(people, 'person')} to {args.file}{sealed}", file=out)
    return 0


def cmd_import(service, args, out: TextIO, err: TextIO) -> int:
    from facerec.archive import import_collection

    summary = import_collection(
        service, args.file, _passphrase(args), merge=args.merge, progress=_progress_to(err, "importing")
    )
    print(import_summary(summary), file=out)
    return 1 if summary.refused and not (summary.imported or summary.already or summary.pending) else 0


def import_summary(summary) -> str:
    lines = [
        f"Imported {len(summary.imported)} of {counted(summary.total, 'photo')}: "
        f"{len(summary.already)} already there, {len(summary.pending)} still indexing, "
        f"{len(summary.refused)} refused"
    ]
    lines += [f"  refused {key}: {why}" for key, why in summary.refused]
    return "\n".join(lines)


def cmd_migrate(service, args, out: TextIO, err: TextIO) -> int:
    import dataclasses

    from facerec.archive import export_collection, import_collection
    from facerec.service import open_service

    if service.settings.backend == args.to:
        raise UserError(f"The settings name the {args.to} back end already: migrate moves to the other one.")
    photos = [p for p in service.photos() if p.status == "indexed"]
    people = len({p.name for p in photos})
    if args.dry_run:
        print(
            f"Would move {counted(len(photos), 'photo')} of {counted(people, 'person')} to the {args.to} back end: "
            f"{counted(len(photos), 'IndexFaces call')} there (one a photo, as an add makes), and as many S3 "
            "uploads; nothing is changed here.",
            file=out,
        )
        return 0
    with (
        open_service(dataclasses.replace(service.settings, backend=args.to)) as target,
        tempfile.TemporaryDirectory() as folder,
    ):
        archive = Path(folder) / "collection.zip"
        export_collection(service, archive, progress=_progress_to(err, "exporting"))
        summary = import_collection(target, archive, merge=args.merge, progress=_progress_to(err, "importing"))
    print(import_summary(summary), file=out)
    print(f"Set FACEREC_BACKEND={args.to} to use the {args.to} back end from now on.", file=out)
    return 1 if summary.refused and not (summary.imported or summary.already or summary.pending) else 0


def _passphrase(args, twice: bool = False) -> str | None:
    if args.passphrase_file:
        text = _read(args.passphrase_file).decode("utf-8").rstrip("\r\n")
        if not text:
            raise UserError(f"{args.passphrase_file} is empty: it should hold the passphrase")
        return text
    if not args.passphrase:
        return None
    import getpass

    passphrase = getpass.getpass("Passphrase: ")
    if twice and getpass.getpass("Passphrase again: ") != passphrase:
        raise UserError("The two passphrases differ: nothing was written")
    if not passphrase:
        raise UserError("The passphrase is empty")
    return passphrase


def _progress_to(err: TextIO, doing: str):
    bar = None

    def report(done: int, total: int, what: str) -> None:
        nonlocal bar
        bar = bar or _progress_bar(err, total, desc=doing, unit=" photos")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report


COMMANDS = {
    "add": cmd_add,
    "check": cmd_check,
    "people": cmd_people,
    "delete": cmd_delete,
    "rename": cmd_rename,
    "reindex": cmd_reindex,
    "export": cmd_export,
    "import": cmd_import,
    "migrate": cmd_migrate,
}


def service_name(name: str) -> str:
    return " ".join(name.split())


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a photo")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return path.read_bytes()


def _face_json(face) -> dict:
    box = face.box
    return {
        "name": face.name,
        "similarity": None if face.similarity is None else round(face.similarity, 2),
        # The nearest enrolled face's similarity, also for an Unknown face: how far from a match it was.
        "nearest_similarity": None if face.best is None else round(face.best, 2),
        "box": {"left": box.left, "top": box.top, "width": box.width, "height": box.height},
    }


def _progress_bar(stream: TextIO, total: int, **options: Any):
    """A progress bar on `stream` (tqdm: the rate, the time left, the terminal's width)."""
    from tqdm import tqdm

    # The rate as photos a second even below one a second (tqdm turns a slow rate into seconds a photo).
    layout = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
    return tqdm(total=total, file=stream, dynamic_ncols=True, bar_format=layout, **options)


@dataclass(frozen=True)
class DemoPhotos:
    """What the demo shows the engine: each person's photos (label, bytes), and photos of several people."""

    people: dict[str, list[tuple[str, bytes]]]
    groups: list[tuple[str, bytes]]


def _demo_photos(folder: Path | None) -> DemoPhotos:
    return enrolled_demo_photos() if folder is None else demo_photos_in(folder)


def demo_photos_in(folder: Path) -> DemoPhotos:
    """A folder of one subfolder of photos per person (or people/<name>/), and groups/ beside them."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give a folder with a subfolder of photos per person")
    people_dir = folder / "people" if (folder / "people").is_dir() else folder
    groups_dir = folder / "groups"

    def labelled(photos: list[Path]) -> list[tuple[str, bytes]]:
        return [(str(photo.relative_to(folder)), photo.read_bytes()) for photo in photos]

    people = {
        person.name: labelled(_images(person))
        for person in sorted(people_dir.iterdir())
        if person.is_dir() and person != groups_dir
    }
    groups = labelled(_images(groups_dir)) if groups_dir.is_dir() else []
    return _with_people(DemoPhotos({name: photos for name, photos in people.items() if photos}, groups), folder)


def enrolled_demo_photos() -> DemoPhotos:
    """The photos enrolled on the configured back end, as they were indexed."""
    from facerec.service import open_service

    people: dict[str, list[tuple[str, bytes]]] = {}
    with open_service() as service:
        for photo in service.photos():
            if photo.status == "indexed":
                label = f"{photo.name}: {Path(photo.key).name}"
                people.setdefault(photo.name, []).append((label, service.indexed_photo(photo.key)))
    return _with_people(DemoPhotos(people, []), None)


def _with_people(photos: DemoPhotos, folder: Path | None) -> DemoPhotos:
    if not photos.people:
        where = f"no photos of people in {folder}" if folder else "nobody is enrolled yet"
        raise UserError(f"{where}: give a folder with a subfolder of photos per person (demo FOLDER)")
    return photos


def run_demo(photos: DemoPhotos, out: TextIO, settings: Settings) -> int:
    """Enrol each person's first photo in a throwaway collection, then name every other photo (with the
    models the settings choose)."""
    from facerec.clients import local_backend

    with (
        tempfile.TemporaryDirectory(prefix="facerec-demo-") as data,
        local_backend(replace(settings, backend="local", data_dir=Path(data))) as backend,
    ):
        engine = backend.rekognition
        engine.create_collection(CollectionId="demo")
        probes: list[tuple[str, bytes]] = []
        names: dict[str, str] = {}  # ExternalImageId -> the person's name
        for number, (name, (first, *others)) in enumerate(photos.people.items()):
            token = f"person-{number}"  # ExternalImageId admits no spaces or accents; the names stay here
            names[token] = name
            engine.index_faces(CollectionId="demo", Image={"Bytes": first[1]}, ExternalImageId=token)
            print(f"enrolled {name:<20} from {first[0]}", file=out)
            probes += others
        for label, data in probes + photos.groups:
            print(f"{label:<42} -> {_demo_name(engine, data, names)}", file=out)
    return 0


def _images(folder: Path) -> list[Path]:
    from facerec.service import photos_in_folder

    return photos_in_folder(folder)


def _demo_name(engine, data: bytes, names: dict[str, str]) -> str:
    try:
        result = engine.search_faces_by_image(CollectionId="demo", Image={"Bytes": data})
    except ClientError as exc:
        return f"({exc.response['Error']['Message']})"
    if not result["FaceMatches"]:
        return "unknown"
    best = result["FaceMatches"][0]
    return f"{names[best['Face']['ExternalImageId']]} (similarity {best['Similarity']:.1f})"
