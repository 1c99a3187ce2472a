"""Export a collection, import it into a fresh back end of either kind: the same people and answers."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from facerec.archive import ArchiveError, export_collection, import_collection, read_manifest
from facerec.service import FaceService
from tests.conftest import small_photo
from tests.test_service import faces_of, snapshot

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, face_models) -> FaceService:
    """A local collection to move: Kit from two photos, Rose picked from a photo of both."""
    from facerec.service import open_service
    from facerec.settings import load

    folder = tmp_path_factory.mktemp("source")
    env = {
        "FACEREC_DATA_DIR": str(folder / "data"),
        "FACEREC_MODEL_DIR": str(face_models.folder),
        "FACEREC_DESCRIPTOR": face_models.descriptor,
        "FACEREC_DETECTOR": face_models.detector,
    }
    service = open_service(load(env_file=None, environ=env))
    for photo in ("kit1.jpg", "kit2.jpg"):
        assert service.add("Kit Harington", small_photo(f"people/kit_harington/{photo}")).ok
    assert service.add("Rose Leslie", small_photo("people/rose_leslie/rose1.jpg")).ok
    group = small_photo("groups/kit_and_rose.jpg")
    (rose,) = [f for f in service.check(group) if f.name == "Rose Leslie"]
    assert service.add_face("Rose Leslie", group, rose.box).ok
    return service


@pytest.fixture(scope="module")
def archive(source: FaceService, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "collection.zip"
    export_collection(source, path)
    return path


def read(path: Path) -> list:
    with zipfile.ZipFile(path) as archive:
        return read_manifest(archive)


PROBES = ("people/kit_harington/kit3.jpg", "people/rose_leslie/rose2.jpg", "people/joe_biden/biden1.jpg")


def answers(service: FaceService) -> list:
    return [[face.name for face in service.check(small_photo(probe))] for probe in PROBES]


@pytest.fixture(scope="module")
def source_answers(source: FaceService) -> list:
    return answers(source)


def test_an_imported_collection_has_the_same_people_faces_and_answers(
    source: FaceService, source_answers: list, archive: Path, service: FaceService, backend
) -> None:
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    summary = import_collection(service, archive)
    assert (len(summary.imported), summary.already, summary.pending, summary.refused) == (4, [], [], [])
    assert faces_of(service) == faces_of(source) == [("Kit Harington", 2), ("Rose Leslie", 2)]
    assert answers(service) == source_answers == [["Kit Harington"], ["Rose Leslie"], [None]]
    # The face picked in the group photo came as its crop, with the whole photo kept beside it.
    group = small_photo("groups/kit_and_rose.jpg")
    assert sum(service.photo(p.key) == group for p in service.photos()) == 1
    assert backend.idle()

    # Exported again from this back end (the bucket and the table), the same photos under the same names.
    exported_again = export_collection(service, service_archive := archive.with_name(f"{backend.settings.backend}.zip"))
    assert sorted((e.name, e.etag) for e in exported_again) == sorted((e.name, e.etag) for e in read(archive))
    service_archive.unlink()

    before = snapshot(service)
    again = import_collection(service, archive)  # a second import changes nothing
    assert (again.imported, len(again.already)) == ([], 4)
    assert backend.idle()
    assert snapshot(service) == before


def test_an_import_interrupted_then_run_again_ends_as_one_import(
    source: FaceService, archive: Path, service: FaceService, backend
) -> None:
    def stop_after_two(done: int, total: int, what: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_collection(service, archive, progress=stop_after_two)
    assert sum(p.face_count for p in service.people()) == 2
    summary = import_collection(service, archive)
    assert (len(summary.imported), len(summary.already)) == (2, 2)
    assert backend.idle()
    assert faces_of(service) == faces_of(source)
    assert len(service.photos()) == 4 and len(snapshot(service)[1]) == 4  # no photo or face twice


def test_a_name_enrolled_with_other_photos_is_merged_only_when_asked(archive: Path, data_dir) -> None:
    from facerec.service import open_service

    service = open_service()  # the rule is the archive's, the same on either back end
    assert service.add("kit  harington", small_photo("people/kit_harington/kit3.jpg")).ok
    summary = import_collection(service, archive)
    assert len(summary.imported) == 2 and len(summary.refused) == 2  # Rose's in, Kit's reported
    assert all("--merge" in why for _, why in summary.refused)
    assert faces_of(service) == [("kit harington", 1), ("Rose Leslie", 2)]
    merged = import_collection(service, archive, merge=True)
    assert (len(merged.imported), len(merged.already)) == (2, 2)
    assert faces_of(service) == [("kit harington", 3), ("Rose Leslie", 2)]  # the enrolled spelling kept


def test_a_passphrase_protects_the_archive(source: FaceService, tmp_path: Path, data_dir) -> None:
    from facerec.service import open_service

    sealed = tmp_path / "sealed.facerec"
    export_collection(source, sealed, passphrase=PASSPHRASE)
    content = sealed.read_bytes()
    assert stat.S_IMODE(os.stat(sealed).st_mode) == 0o600
    assert b"Kit Harington" not in content and b"\xff\xd8\xff" not in content and b"manifest" not in content
    target = open_service()
    for wrong in (None, "Correct horse battery staple"):
        with pytest.raises(ArchiveError, match="passphrase"):
            import_collection(target, sealed, passphrase=wrong)
    changed = bytearray(content)
    changed[len(content) // 2] ^= 1
    (tmp_path / "changed.facerec").write_bytes(bytes(changed))
    with pytest.raises(ArchiveError, match="changed or damaged"):
        import_collection(target, tmp_path / "changed.facerec", passphrase=PASSPHRASE)
    assert target.photos() == []
    assert len(import_collection(target, sealed, passphrase=PASSPHRASE).imported) == 4


def test_a_damaged_or_foreign_file_is_refused_and_writes_nothing(
    archive: Path, tmp_path: Path, service: FaceService
) -> None:
    before = snapshot(service)
    notes = tmp_path / "notes.txt"
    notes.write_text("not an archive")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as other:
        other.writestr("manifest.json", '{"format": "something else"}')
    no_photo = tmp_path / "no_photo.zip"
    with zipfile.ZipFile(archive) as whole, zipfile.ZipFile(no_photo, "w") as partial:
        for member in whole.namelist():
            if member != whole.namelist()[0]:
                partial.writestr(member, whole.read(member))
    for bad, message in [
        (notes, "not a collection archive"),
        (cut, "not a collection archive"),
        (foreign, "not a collection archive of this program"),
        (no_photo, "incomplete"),
        (tmp_path / "missing.zip", "Cannot read"),
    ]:
        with pytest.raises(ArchiveError, match=message):
            import_collection(service, bad)
    assert snapshot(service) == before


def test_an_export_cut_short_leaves_no_archive(source: FaceService, tmp_path: Path) -> None:
    def fail_at_two(done: int, total: int, what: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_collection(source, tmp_path / "collection.zip", progress=fail_at_two)
    assert list(tmp_path.iterdir()) == []
