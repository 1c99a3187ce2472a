"""The local back end: one object per service, owning its clients and its models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facerec import faces as facelib
from facerec.records import upload_metadata
from facerec.service import open_service
from facerec.settings import load
from tests.conftest import small_photo


def local_settings(tmp_path: Path, **more: str):
    return load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data"), **more})


def test_two_services_on_one_data_folder_each_index_with_their_own_engine(tmp_path: Path) -> None:
    """No client is shared through the module: each service's bucket runs the indexer with that service's
    own engine and table, and both see every face (they share the folder, not the objects)."""
    first, second = open_service(local_settings(tmp_path)), open_service(local_settings(tmp_path))
    assert {id(first.s3), id(first.rekognition), id(first.dynamodb)}.isdisjoint(
        {id(second.s3), id(second.rekognition), id(second.dynamodb)}
    )
    indexed_by = []
    for service in (first, second):
        index_faces = service.rekognition.index_faces

        def spying(service=service, index_faces=index_faces, **params):
            indexed_by.append(service)
            return index_faces(**params)

        service.rekognition.index_faces = spying
    for service, name, photo in ((first, "Joe", "joe_biden/biden1.jpg"), (second, "Rose", "rose_leslie/rose1.jpg")):
        assert service.add(name, small_photo(f"people/{photo}")).ok
        assert indexed_by and all(indexer is service for indexer in indexed_by)  # deliveries may run twice
        indexed_by.clear()
    assert sorted(p.name for p in first.people()) == sorted(p.name for p in second.people()) == ["Joe", "Rose"]


def test_a_service_loads_its_models_once_and_only_when_a_face_is_looked_for(
    tmp_path: Path, loaded_models: facelib.Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its engine (indexing, searching) and the Add face preview run on the one back end's models."""
    loads = []
    monkeypatch.setattr(facelib, "Models", lambda choice: loads.append(choice) or loaded_models)
    # Models of a choice of their own (another folder), so that the run's shared ones are not given.
    settings = local_settings(tmp_path, FACEREC_MODEL_DIR=str(tmp_path / "models"))
    service = open_service(settings)
    assert service.people() == [] and loads == []
    assert service.add("Joe", small_photo("people/joe_biden/biden1.jpg")).ok
    pixels = facelib.decode(small_photo("people/joe_biden/biden2.jpg")).pixels
    assert len(service.faces_in(pixels)) == 1
    assert [face.name for face in service.check(small_photo("people/joe_biden/biden2.jpg"))] == ["Joe"]
    assert loads == [settings.models]


def test_the_preview_finds_faces_without_describing_them(tmp_path: Path) -> None:
    service = open_service(local_settings(tmp_path))
    (face,) = service.faces_in(facelib.decode(small_photo("people/rose_leslie/rose1.jpg")).pixels)
    assert face.descriptor.size == 0 and face.box.width > 0
    assert service.faces_in(np.zeros((120, 160, 3), dtype=np.uint8)) == []


def open_files() -> set[str]:
    """What this process has open, by path."""
    folder = Path("/proc/self/fd")
    return {str(fd.readlink()) for fd in folder.iterdir() if fd.exists()}


def test_a_closed_service_leaves_none_of_its_data_folders_files_open(tmp_path: Path) -> None:
    """A process that opens services again and again (the app's tests, a script) keeps no file of theirs: past
    1024 open files, Tk's event loop aborts the process."""
    data = (tmp_path / "data").resolve()
    for _ in range(3):
        with open_service(local_settings(tmp_path)) as service:
            assert service.add("Joe", small_photo("people/joe_biden/biden1.jpg"), timeout=60).status in (
                "indexed",
                "duplicate",
            )
            assert any(path.startswith(str(data)) for path in open_files())
        assert not [path for path in open_files() if path.startswith(str(data))]


def test_a_photo_uploaded_just_before_the_service_closes_is_still_indexed(tmp_path: Path) -> None:
    """Closing lets the indexer runs under way finish (they would otherwise fail on closed databases, and stay
    claimed by this live process): the photo is enrolled when the folder is next opened."""
    settings = local_settings(tmp_path, FACEREC_DELIVERY="adversarial")  # each run waits a moment first
    with open_service(settings) as service:
        service.s3.put_object(
            Bucket=settings.s3_bucket_name,
            Key="index/joe.jpg",
            Body=small_photo("people/joe_biden/biden1.jpg"),
            Metadata=upload_metadata("Joe"),
        )
    with open_service(settings) as later:
        assert later.s3.courier.idle(timeout=30)
        assert [(person.name, len(person.faces)) for person in later.people()] == [("Joe", 1)]
