"""Gender (facerec.gender) on the people of ../shared/faces, whose genders are known."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facerec import faces as facelib
from facerec.gender import GenderClassifier

FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "faces"))
WOMEN = {"rose_leslie"}
PHOTOS = sorted(str(p.relative_to(FACES_DIR)) for p in (FACES_DIR / "people").glob("*/*"))


@pytest.fixture(scope="module")
def classifier() -> GenderClassifier:
    return GenderClassifier()


@pytest.fixture(scope="module")
def engine(loaded_models) -> facelib.Models:
    return loaded_models


@pytest.mark.parametrize("relative", PHOTOS)
def test_each_persons_gender_is_told(relative: str, classifier: GenderClassifier, engine: facelib.Models) -> None:
    picture = facelib.decode((FACES_DIR / relative).read_bytes())
    (face,) = facelib.find_faces(picture, engine, describe=False)
    ((value, confidence),) = classifier.genders(picture.pixels, [face.box])
    assert value == ("Female" if Path(relative).parent.name in WOMEN else "Male")
    assert 50 <= confidence <= 100


def test_each_face_of_a_group_gets_its_own(classifier: GenderClassifier, engine: facelib.Models) -> None:
    picture = facelib.decode((FACES_DIR / "groups/kit_and_rose.jpg").read_bytes())
    faces = sorted(facelib.find_faces(picture, engine, describe=False), key=lambda f: f.box.left)
    assert [value for value, _ in classifier.genders(picture.pixels, [f.box for f in faces])] == ["Female", "Male"]
