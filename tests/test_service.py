"""The app's operations end to end on both back ends: add, check, people, delete, reindex."""

from __future__ import annotations

import urllib.parse

import pytest
from PIL import Image

from facerec.errors import InvalidImage, InvalidName, NotEnrolled
from facerec.service import FaceService
from tests.conftest import jpeg, letterbox, people, photo
from tests.local.test_rekognition import png_claiming


@pytest.fixture
def service(backend) -> FaceService:
    settings, s3, rekognition, dynamodb = backend
    return FaceService(settings, s3, rekognition, dynamodb)


def bucket_keys(service: FaceService) -> list[str]:
    listed = service.s3.list_objects_v2(Bucket=service.settings.s3_bucket_name)
    return [o["Key"] for o in listed.get("Contents", [])]


def collection_faces(service: FaceService) -> list[str]:
    listed = service.rekognition.list_faces(CollectionId=service.settings.rekognition_collection_name)
    return [f["FaceId"] for f in listed["Faces"]]


def table_items(service: FaceService) -> list[dict]:
    return service.dynamodb.scan(TableName=service.settings.dynamodb_table_name)["Items"]


def snapshot(service: FaceService) -> tuple:
    return sorted(bucket_keys(service)), sorted(collection_faces(service)), len(table_items(service))


def test_add_check_people_delete(service: FaceService) -> None:
    for name in ("barack_obama", "joe_biden"):
        for path in people()[name][:2]:
            result = service.add(name.replace("_", " ").title(), path.read_bytes())
            assert result.ok, result
    assert [(p.name, p.face_count) for p in service.people()] == [("Barack Obama", 2), ("Joe Biden", 2)]

    (face,) = service.check(photo("people/barack_obama/obama4.jpg"))
    assert face.name == "Barack Obama" and face.similarity >= 80
    group = service.check(photo("groups/obama_and_biden_1.jpg"))
    assert {f.name for f in group} == {"Barack Obama", "Joe Biden"}
    (stranger,) = service.check(photo("people/kit_harington/kit1.jpg"))
    assert stranger.name is None

    deleted = service.delete("Barack Obama")
    assert (deleted.faces, deleted.images) == (2, 2)
    assert [p.name for p in service.people()] == ["Joe Biden"]
    assert len(bucket_keys(service)) == 2 and len(collection_faces(service)) == 2
    assert service.check(photo("people/barack_obama/obama4.jpg"))[0].name is None
    assert service.check(photo("people/joe_biden/biden2.jpg"))[0].name == "Joe Biden"


@pytest.mark.parametrize("name", ["Zoë Ñúñez", "李雷", "O'Brien-Smith, Jr."])
def test_names_round_trip(service: FaceService, name: str) -> None:
    assert service.add(name, photo("people/rose_leslie/rose1.jpg")).ok
    assert [p.name for p in service.people()] == [name]
    assert service.check(photo("people/rose_leslie/rose2.jpg"))[0].name == name


def test_a_photo_without_a_usable_face_is_refused_and_leaves_nothing(service: FaceService) -> None:
    before = snapshot(service)
    landscape = jpeg(Image.new("RGB", (640, 480), (120, 160, 90)))
    result = service.add("Nobody", landscape)
    assert result.status == "no_face" and not result.ok
    assert "no face" in result.message
    assert snapshot(service) == before


def test_a_group_photo_is_refused_for_enrolment(service: FaceService) -> None:
    before = snapshot(service)
    result = service.add("Someone", photo("groups/kit_and_rose.jpg"))
    assert result.status == "several_faces"
    assert "2 faces" in result.message
    assert snapshot(service) == before


BAD_FILES = {
    "empty": lambda: b"",
    "text": lambda: b"plain text, not a photo",
    "truncated PNG": lambda: photo("people/lin_manuel_miranda/lin1.png")[:300],
    "30000x30000 PNG header": lambda: png_claiming(30000, 30000),
}


def test_an_image_too_large_is_refused_from_its_header(service: FaceService) -> None:
    before = snapshot(service)
    with pytest.raises(InvalidImage, match=r"too large \(8000x6000 pixels\)"):
        service.add("Lin", png_claiming(8000, 6000))  # 48 megapixels, with almost no data behind them
    assert snapshot(service) == before


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_are_refused_before_upload(service: FaceService, kind: str) -> None:
    before = snapshot(service)
    with pytest.raises(InvalidImage):
        service.add("Lin", BAD_FILES[kind]())
    assert snapshot(service) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "name is empty"), ("   ", "name is empty"), ("x" * 300, "300 characters"), ("bad\x07name", "control")],
)
def test_bad_names_are_refused(service: FaceService, name: str, message: str) -> None:
    before = snapshot(service)
    with pytest.raises(InvalidName, match=message):
        service.add(name, photo("people/rose_leslie/rose1.jpg"))
    assert snapshot(service) == before


def test_deleting_someone_not_enrolled_says_so(service: FaceService) -> None:
    with pytest.raises(NotEnrolled):
        service.delete("Nobody Here")


def test_webcam_frame_is_checked(service: FaceService) -> None:
    assert service.add("Kit", photo("people/kit_harington/kit1.jpg")).ok
    (face,) = service.check(jpeg(letterbox(photo("people/kit_harington/kit3.jpg"))))
    assert face.name == "Kit"
    assert 0 <= face.box.left < 1 and 0 < face.box.width < 1


def test_threshold_decides_a_match(service: FaceService) -> None:
    assert service.add("Alex", photo("people/alex_lacamoire/alex1.png")).ok
    (face,) = service.check(photo("people/alex_lacamoire/alex2.jpg"))
    assert face.name == "Alex"
    (strict,) = service.check(photo("people/alex_lacamoire/alex2.jpg"), threshold=min(99.99, face.similarity + 0.1))
    assert strict.name is None


def test_deleting_a_person_leaves_none_of_their_data_on_disk(tmp_path) -> None:
    from facerec.service import open_service
    from facerec.settings import load

    settings = load(env_file=None, environ={"FACEREC_DATA_DIR": str(tmp_path / "data")})
    service = open_service(settings)
    assert service.add("Zebulon Quixote", photo("people/joe_biden/biden1.jpg")).ok
    assert service.add("Rose", photo("people/rose_leslie/rose1.jpg")).ok
    (zebulon,) = [p for p in service.people() if p.name == "Zebulon Quixote"]
    descriptor = service.rekognition.store.face(settings.rekognition_collection_name, zebulon.face_ids[0])[1]
    image = photo("people/joe_biden/biden1.jpg")

    service.delete("Zebulon Quixote")
    traces = [b"Zebulon", urllib.parse.quote("Zebulon Quixote").encode(), descriptor.tobytes(), image[1000:1100]]
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(trace in content for trace in traces), path
    assert [p.name for p in service.people()] == ["Rose"]


def test_reindex_leaves_an_upload_that_may_still_be_indexing_alone(service: FaceService) -> None:
    # An upload whose notification has not run yet: straight into the bucket, past the pipeline.
    raw_s3 = getattr(service.s3, "_client", service.s3)
    functions = getattr(raw_s3, "functions", None)
    if functions is not None:
        raw_s3.functions = {}
    raw_s3.put_object(
        Bucket=service.settings.s3_bucket_name,
        Key="index/late.jpg",
        Body=photo("people/kit_harington/kit1.jpg"),
        Metadata={"fullname": "Kit"},
    )
    if functions is not None:
        raw_s3.functions = functions
    waiting = service.reindex()
    assert waiting.in_flight == ["index/late.jpg"] and waiting.indexed == []
    assert service.people() == []
    done = service.reindex(grace=0.0)
    assert done.indexed == ["index/late.jpg"]
    assert [p.name for p in service.people()] == ["Kit"]
