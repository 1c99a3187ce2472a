"""FaceService.find_duplicates and the best similarity of Unknown faces, on both back ends."""

from __future__ import annotations

import pytest

from facerec.service import Duplicate, FaceService
from tests.conftest import small_photo


def kinds(found: list[Duplicate]) -> list[tuple[str, str]]:
    return [(d.kind, d.name) for d in found]


def test_duplicates_of_a_face_a_photo_and_a_name(service: FaceService) -> None:
    biden = small_photo("people/joe_biden/biden1.jpg")
    assert service.add("Joe Biden", biden).ok
    another = small_photo("people/joe_biden/biden2.jpg")
    assert service.find_duplicates("Joe Biden", another) == []  # another photo of him
    assert service.find_duplicates("Kit Harington", small_photo("people/kit_harington/kit1.jpg")) == []

    face = service.find_duplicates("Someone Else", small_photo("people/joe_biden/biden2.jpg"))
    assert kinds(face) == [("face", "Joe Biden")] and face[0].similarity >= service.settings.match_threshold
    assert "Joe Biden" in face[0].message

    assert kinds(service.find_duplicates("Joe Biden", biden)) == [("photo", "Joe Biden")]
    assert kinds(service.find_duplicates("Someone Else", biden)) == [("photo", "Joe Biden")]
    assert kinds(service.find_duplicates("  joe   BIDEN ", small_photo("people/kit_harington/kit1.jpg"))) == [
        ("name", "Joe Biden")
    ]
    # A photo without a face is no duplicate: add says what is wrong with it.
    assert service.find_duplicates("Joe Biden", _blank()) == []


def _blank() -> bytes:
    from PIL import Image

    from tests.conftest import jpeg

    return jpeg(Image.new("RGB", (320, 240), (200, 200, 200)))


def test_unknown_faces_carry_the_best_similarity_below_the_threshold(service: FaceService) -> None:
    assert service.add("Barack Obama", small_photo("people/barack_obama/obama2.jpg")).ok
    (unknown,) = service.check(small_photo("people/joe_biden/biden1.jpg"))
    assert unknown.name is None and unknown.similarity is None
    assert unknown.best is not None and 0 < unknown.best < service.settings.match_threshold
    (known,) = service.check(small_photo("people/barack_obama/obama3.jpg"))
    assert known.name == "Barack Obama" and known.best == known.similarity
    # The threshold still decides: above the match's similarity, the same face is Unknown, with its best.
    strictly = min(100.0, known.similarity + 0.01)
    (strict,) = service.check(small_photo("people/barack_obama/obama3.jpg"), threshold=strictly)
    assert strict.name is None and strict.best == pytest.approx(known.similarity)
