"""A collection in one file, and back: export every enrolled photo with its name; import through add.

Rekognition cannot import descriptors, so a collection moves as its photos: an archive is a zip of
every indexed photo under index/ (and the whole photo a picked face came from) with a manifest of
key, name, ETag and time. Import sends each photo through `FaceService.add`, the normal pipeline
(upload under index/, the indexer runs as S3 and Lambda run it), so nothing bypasses the rules an add
follows. A photo whose ETag is enrolled under its name already is not sent again: importing twice,
or again after an interruption, ends as one import would.

With a passphrase the zip is encrypted with AES-256-GCM under a key scrypt derives from it: without
the passphrase the archive's photos and names cannot be read, and a changed byte is detected.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from facerec.errors import UserError
from facerec.service import EnrolledPhoto, FaceService, name_key, prepare_image

FORMAT = "facerec-collection"
VERSION = 1
MANIFEST = "manifest.json"
ENCRYPTED = b"FACEREC-AES256GCM-1\n"  # how an encrypted archive begins
SALT_BYTES, NONCE_BYTES, TAG_BYTES = 16, 12, 16
SCRYPT_N = 2**15  # about 0.1 s and 32 MB a key: slow for whoever guesses passphrases
CHUNK = 1 << 20

Progress = Callable[[int, int, str], None]  # done, total, what


class ArchiveError(UserError):
    """The file is not an archive this program wrote, or it was changed or cut short, or the passphrase is wrong."""


@dataclass(frozen=True)
class Entry:
    """One photo of the archive."""

    name: str
    key: str  # where it was in the bucket it came from
    etag: str
    file: str  # its member in the zip
    whole: str | None = None  # the member of the whole photo a face was picked from


@dataclass
class ImportSummary:
    imported: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (key, why)

    @property
    def total(self) -> int:
        return len(self.imported) + len(self.already) + len(self.pending) + len(self.refused)


def export_collection(
    service: FaceService, path: Path, passphrase: str | None = None, progress: Progress | None = None
) -> list[Entry]:
    """Write every indexed photo and its name to `path`, owner-only (0600), whole or not at all."""
    photos = [p for p in service.photos() if p.status == "indexed"]
    entries = []
    with _replacing(path) as temporary:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive:
            for number, photo in enumerate(photos, 1):
                entry = Entry(photo.name, photo.key, photo.etag, f"photos/{number:06d}{Path(photo.key).suffix}")
                archive.writestr(entry.file, service.indexed_photo(photo.key))
                whole = service.original(photo.key)
                if whole is not None:
                    entry = Entry(**{**asdict(entry), "whole": f"whole/{number:06d}"})
                    archive.writestr(entry.whole, whole)
                entries.append(entry)
                if progress:
                    progress(number, len(photos), photo.key)
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "exported_at": datetime.now(timezone.utc).isoformat(),
                "photos": [asdict(e) for e in entries],
            }
            archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        if passphrase:
            _encrypt_in_place(temporary, passphrase)
    return entries


def import_collection(
    service: FaceService,
    path: Path,
    passphrase: str | None = None,
    merge: bool = False,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> ImportSummary:
    """Add every photo of the archive that is not enrolled under its name yet, through the normal pipeline.

    The whole archive is checked before anything is sent: a damaged or foreign file changes nothing.
    A name enrolled already with faces from elsewhere is refused unless `merge`.
    """
    with _opened(path, passphrase) as archive:
        entries = read_manifest(archive)
        photos = service.photos()
        present = {(p.etag, name_key(p.name)): p.status for p in photos}
        taken = _names_with_other_photos(photos, entries) if not merge else {}
        enrolled = {name_key(p.name): p.name for p in service.people()}
        summary = ImportSummary()
        for done, entry in enumerate(entries, 1):
            status = present.get((entry.etag, name_key(entry.name)))
            if status == "indexed":
                summary.already.append(entry.key)
            elif status is not None:
                summary.pending.append(entry.key)
            elif name_key(entry.name) in taken:
                summary.refused.append((entry.key, taken[name_key(entry.name)]))
            else:
                name = enrolled.get(name_key(entry.name), entry.name)  # merged: the enrolled spelling
                _send(service, archive, entry, name, timeout, summary)
            if progress:
                progress(done, len(entries), entry.key)
    return summary


def is_sealed(path: Path) -> bool:
    """Is the archive protected by a passphrase?"""
    try:
        with open(path, "rb") as file:
            return file.read(len(ENCRYPTED)) == ENCRYPTED
    except OSError as exc:
        raise ArchiveError(f"Cannot read {path}: {exc.strerror}.") from None


def read_manifest(archive: zipfile.ZipFile) -> list[Entry]:
    """The archive's photos, once the manifest and every member it names are found whole."""
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError):
        raise ArchiveError("This file is not a collection archive (it has no manifest).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError("This file is not a collection archive of this program.")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"This archive is of version {manifest.get('version')}; this program reads {VERSION}.")
    try:
        entries = [Entry(**photo) for photo in manifest["photos"]]
    except (KeyError, TypeError):
        raise ArchiveError("The archive's manifest is damaged.") from None
    if archive.testzip() is not None:
        raise ArchiveError("The archive is damaged: a photo in it cannot be read.")
    members = set(archive.namelist())
    missing = [m for e in entries for m in (e.file, e.whole) if m and m not in members]
    if missing:
        raise ArchiveError(f"The archive is incomplete: {len(missing)} of its photos are missing.")
    return entries


def _names_with_other_photos(photos: list[EnrolledPhoto], entries: list[Entry]) -> dict[str, str]:
    """Names of the archive enrolled with photos the archive does not have, each with why it is refused."""
    archived = {(e.etag, name_key(e.name)) for e in entries}
    names = {name_key(e.name) for e in entries}
    return {
        name_key(p.name): f"{p.name} is enrolled already with other photos: import with --merge to add these to them"
        for p in photos
        if name_key(p.name) in names and (p.etag, name_key(p.name)) not in archived
    }


def _send(service: FaceService, archive: zipfile.ZipFile, entry: Entry, name: str, timeout: float, summary) -> None:
    data = archive.read(entry.file)
    whole = prepare_image(archive.read(entry.whole), entry.whole) if entry.whole else None
    try:
        result = service.add(name, data, timeout=timeout, source=entry.key, whole_photo=whole)
    except UserError as exc:
        summary.refused.append((entry.key, str(exc)))
        return
    if result.ok:
        summary.imported.append(entry.key)
    elif result.pending:
        summary.pending.append(entry.key)
    else:
        summary.refused.append((entry.key, result.message))


class _replacing:
    """A temporary owner-only file beside `path` that replaces it on success and is removed on failure."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        self.temporary = Path(name)
        return self.temporary

    def __exit__(self, kind, *_: object) -> None:
        if kind is not None:
            self.temporary.unlink(missing_ok=True)
            return
        with open(self.temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(self.temporary, self.path)


class _opened:
    """The archive as a ZipFile, decrypted first when it is encrypted."""

    def __init__(self, path: Path, passphrase: str | None) -> None:
        self.path, self.passphrase = path, passphrase

    def __enter__(self) -> zipfile.ZipFile:
        encrypted = is_sealed(self.path)
        if encrypted and not self.passphrase:
            raise ArchiveError("This archive is protected by a passphrase: give it with --passphrase-file.")
        source = _decrypted(self.path, self.passphrase) if encrypted else self.path
        try:
            self.archive = zipfile.ZipFile(source)
        except zipfile.BadZipFile:
            raise ArchiveError("This file is not a collection archive (or it is cut short).") from None
        return self.archive

    def __exit__(self, *_: object) -> None:
        self.archive.close()


def _key(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(passphrase.encode("utf-8"))


def _encrypt_in_place(path: Path, passphrase: str) -> None:
    """Replace the zip at `path` by ENCRYPTED, salt, nonce, the ciphertext and GCM's tag (streamed, so that
    a large collection is not held in memory; AESGCM.decrypt reads the same layout)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(_key(passphrase, salt)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(ENCRYPTED)
    sealed = path.with_name(path.name + ".sealed")
    with open(path, "rb") as plain, open(os.open(sealed, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600), "wb") as out:
        out.write(ENCRYPTED + salt + nonce)
        while chunk := plain.read(CHUNK):
            out.write(encryptor.update(chunk))
        out.write(encryptor.finalize() + encryptor.tag)
    os.replace(sealed, path)


def _decrypted(path: Path, passphrase: str) -> io.BytesIO:
    """The archive decrypted, in memory (no plaintext on disk to leave behind), once GCM's tag is verified."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = path.read_bytes()
    header = len(ENCRYPTED) + SALT_BYTES + NONCE_BYTES
    if len(sealed) < header + TAG_BYTES:
        raise ArchiveError("The archive is cut short.")
    salt = sealed[len(ENCRYPTED) : len(ENCRYPTED) + SALT_BYTES]
    nonce = sealed[len(ENCRYPTED) + SALT_BYTES : header]
    try:
        return io.BytesIO(AESGCM(_key(passphrase, salt)).decrypt(nonce, sealed[header:], ENCRYPTED))
    except InvalidTag:
        raise ArchiveError("Wrong passphrase, or the archive was changed or damaged.") from None
