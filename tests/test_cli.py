"""`python -m facerec` as a user runs it, on the local back end."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from subprocess import PIPE

import numpy as np
import pytest
from PIL import Image

from facerec.cli import main
from tests.conftest import FACES_DIR, ROOT


@pytest.fixture
def facerec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI run as `python -m facerec ARGS` would run it, in this process: the tests of its logic share the
    loaded models; `facerec.process` and `facerec.start` run the real process where the process is the point."""
    base = {
        "FACEREC_BACKEND": "local",
        "FACEREC_DATA_DIR": str(tmp_path / "data"),
        "FACEREC_DELIVERY": "adversarial",
    }

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
            for key, value in {**base, **(env or {})}.items():
                patch.setenv(key, value)
            patch.chdir(tmp_path)
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    process_env = {**os.environ, **base, "PYTHONPATH": str(ROOT)}

    def process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "facerec", *args],
            cwd=tmp_path,
            env={**process_env, **(env or {})},
            capture_output=True,
            text=True,
        )

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "facerec", *args], cwd=tmp_path, env=process_env, stdout=PIPE, stderr=PIPE, text=True
        )

    run.process = process
    run.start = start
    return run


def names_in(result: subprocess.CompletedProcess) -> list:
    assert result.returncode == 0, result.stderr
    return [face["name"] for face in json.loads(result.stdout)["faces"]]


def test_enrol_check_and_delete_through_the_cli(facerec, small_faces) -> None:
    obama = sorted((small_faces / "people/barack_obama").iterdir())
    biden = sorted((small_faces / "people/joe_biden").iterdir())
    added = facerec("add", "Barack Obama", str(obama[0]), str(obama[1]))
    assert added.returncode == 0, added.stderr
    assert "Added 2 of 2" in added.stdout
    assert "2/2" in added.stderr and "photos/s" in added.stderr  # the progress bar, with the rate
    one = facerec("add", "Joe Biden", str(biden[0]))
    assert one.returncode == 0
    assert one.stdout == f"Added {biden[0].name} as Joe Biden\n"  # not "Added 1 of 1 photos"

    people = json.loads(facerec("people", "--json").stdout)
    assert people == [{"name": "Barack Obama", "faces": 2}, {"name": "Joe Biden", "faces": 1}]
    assert names_in(facerec("check", str(obama[3]), "--json")) == ["Barack Obama"]
    assert names_in(facerec("check", str(biden[1]), "--json")) == ["Joe Biden"]
    assert sorted(names_in(facerec("check", str(FACES_DIR / "groups/obama_and_biden_1.jpg"), "--json"))) == [
        "Barack Obama",
        "Joe Biden",
    ]
    (stranger,) = json.loads(facerec("check", str(small_faces / "people/rose_leslie/rose1.jpg"), "--json").stdout)[
        "faces"
    ]
    assert stranger["name"] is None and stranger["similarity"] is None
    assert 0 < stranger["nearest_similarity"] < 80  # compared, and how near the nearest enrolled face was
    checked = json.loads(facerec("check", str(obama[3]), "--json").stdout)["faces"][0]
    assert checked["similarity"] >= 80 and set(checked["box"]) == {"left", "top", "width", "height"}

    deleted = facerec("delete", "barack  OBAMA")  # names compared as add compares them
    assert deleted.returncode == 0 and deleted.stdout == "Deleted Barack Obama: 2 faces, 2 images\n"
    assert "Barack Obama" not in facerec("people").stdout
    assert names_in(facerec("check", str(obama[3]), "--json")) == [None]
    assert names_in(facerec("check", str(biden[1]), "--json")) == ["Joe Biden"]
    assert "1 face" in facerec("people").stdout


def test_user_errors_exit_1_with_one_line(facerec, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    for args, message in [
        (("add", "Someone", str(text)), "is not an image"),
        (("add", "", str(FACES_DIR / "people/joe_biden/biden1.jpg")), "name is empty"),
        (("add", "x" * 300, str(FACES_DIR / "people/joe_biden/biden1.jpg")), "300 characters"),
        (("check", str(tmp_path / "missing.jpg")), "no such file"),
        (("delete", "Nobody"), "Nobody called"),
    ]:
        result = facerec(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert json.loads(facerec("people", "--json").stdout) == []


def test_a_photo_of_two_faces_is_not_added(facerec) -> None:
    result = facerec("add", "Kit", str(FACES_DIR / "groups/kit_and_rose.jpg"))
    assert result.returncode == 1
    assert "2 faces" in result.stderr
    assert "Kit" not in facerec("people").stdout


def photo_of_a_wall(folder: Path) -> Path:
    """A plain, grainy wall: a valid photo with nobody in it."""
    wall = folder / "wall.jpg"
    noise = np.random.default_rng(1).integers(100, 160, size=(300, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(wall)
    return wall


def test_a_photo_without_a_face_is_not_added(facerec, tmp_path: Path) -> None:
    wall = photo_of_a_wall(tmp_path)
    result = facerec("add", "Kit", str(wall))
    assert result.returncode == 1
    assert "wall.jpg" in result.stderr and "no face" in result.stderr
    assert "Kit" not in facerec("people").stdout


def test_checking_a_photo_without_a_face_is_a_user_error(facerec, tmp_path: Path) -> None:
    # A script must tell "nobody in the photo" from "somebody, unknown" without parsing words.
    wall = photo_of_a_wall(tmp_path)
    result = facerec("check", str(wall))
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr.strip().splitlines() == [f"error: no face found in {wall}"]
    as_json = facerec("check", str(wall), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout) == {"faces": []}


def test_usage_errors_exit_2(facerec) -> None:
    assert facerec().returncode == 2
    assert facerec("check").returncode == 2
    assert facerec("frobnicate").returncode == 2
    usage = facerec.process("frobnicate")  # and the interpreter's exit status is the CLI's
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_invalid_settings_name_the_setting(facerec, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FACEREC_MATCH_THRESHOLD=high\n")
    result = facerec("people")
    assert result.returncode == 1
    assert "FACEREC_MATCH_THRESHOLD" in result.stderr


def test_reindex_reports_what_it_did(facerec) -> None:
    result = facerec("reindex")
    assert result.returncode == 0 and "Indexed 0 images" in result.stdout


def test_missing_aws_credentials_are_explained(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")} | {
        "FACEREC_BACKEND": "aws",
        "PYTHONPATH": str(ROOT),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "eu-west-1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "facerec", "people"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "No AWS credentials" in result.stderr and "Traceback" not in result.stderr


def test_two_adds_a_delete_and_a_reindex_at_once_end_as_in_turn(facerec, small_faces) -> None:
    """Four processes on one data folder: no error, no face twice, none lost."""
    assert facerec("add", "Kit", str(small_faces / "people/kit_harington/kit1.jpg")).returncode == 0
    obama = sorted((small_faces / "people/barack_obama").iterdir())[:3]
    biden = sorted((small_faces / "people/joe_biden").iterdir())
    runs = [
        facerec.start("add", "Barack Obama", *map(str, obama)),
        facerec.start("add", "Joe Biden", *map(str, biden)),
        facerec.start("delete", "Kit"),
        facerec.start("reindex"),
    ]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
    people = json.loads(facerec("people", "--json").stdout)
    assert people == [{"name": "Barack Obama", "faces": 3}, {"name": "Joe Biden", "faces": 2}]
    reindexed = facerec("reindex", "--now")
    assert "Indexed 0 images" in reindexed.stdout and "removed 0 faces" in reindexed.stdout, reindexed.stdout
    assert json.loads(facerec("people", "--json").stdout) == people


def test_a_bulk_add_lists_what_was_added_and_what_was_not(facerec, small_faces) -> None:
    good = small_faces / "people/rose_leslie/rose1.jpg"
    group = FACES_DIR / "groups/kit_and_rose.jpg"
    result = facerec("add", "Rose", str(good), str(group))
    assert result.returncode == 0, result.stderr
    assert "Added 1 of 2 photos of Rose" in result.stdout
    assert "added: rose1.jpg" in result.stdout and "not added: kit_and_rose.jpg" in result.stdout
    assert "kit_and_rose.jpg: not added: the photo shows 2 faces" in result.stderr
    assert json.loads(facerec("people", "--json").stdout) == [{"name": "Rose", "faces": 1}]


def test_a_folder_given_as_a_photo_is_named_a_folder(facerec, tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    result = facerec("check", str(folder))
    assert result.returncode == 1 and "is a folder" in result.stderr, result.stderr
    assert "no such file" not in result.stderr


def test_add_enrols_every_photo_of_a_folder(facerec, small_faces) -> None:
    added = facerec("add", "Kit Harington", str(small_faces / "people/kit_harington"))
    assert added.returncode == 0, added.stderr
    assert "Added 3 of 3" in added.stdout
    assert json.loads(facerec("people", "--json").stdout) == [{"name": "Kit Harington", "faces": 3}]


def test_a_broken_file_in_a_folder_is_listed_and_the_other_photos_added(facerec, small_faces, tmp_path: Path) -> None:
    folder = tmp_path / "kit"
    shutil.copytree(small_faces / "people/kit_harington", folder)
    whole = (folder / "kit1.jpg").read_bytes()
    (folder / "kit0.jpg").write_bytes(whole[: len(whole) // 3])  # cut short, as by a failed copy
    added = facerec("add", "Kit Harington", str(folder))
    assert added.returncode == 0, added.stderr
    assert "Added 3 of 4" in added.stdout and "not added: kit0.jpg" in added.stdout
    assert "kit0.jpg: not added:" in added.stderr and "Traceback" not in added.stderr
    assert json.loads(facerec("people", "--json").stdout) == [{"name": "Kit Harington", "faces": 3}]


@pytest.mark.parametrize("threshold", ["-1", "100.5", "nan", "high"])
def test_a_threshold_outside_0_to_100_is_a_usage_error(facerec, threshold: str) -> None:
    result = facerec("check", str(FACES_DIR / "people/joe_biden/biden1.jpg"), "--threshold", threshold)
    assert result.returncode == 2, result.stderr
    assert "--threshold" in result.stderr and "0" in result.stderr and "100" in result.stderr


def test_enrolling_a_duplicate_is_refused_unless_allowed(facerec, small_faces) -> None:
    biden = str(small_faces / "people/joe_biden/biden1.jpg")
    assert facerec("add", "Joe Biden", biden).returncode == 0
    for args, says in [
        (("add", "Someone Else", str(small_faces / "people/joe_biden/biden2.jpg")), "Joe Biden"),  # his face
        (("add", "Joe Biden", biden), "already enrolled"),  # the same photo
        (("add", "joe  BIDEN", str(small_faces / "people/kit_harington/kit1.jpg")), "Joe Biden"),  # the name
    ]:
        result = facerec(*args)
        assert result.returncode == 1, (args, result.stdout)
        assert says in result.stderr and "--allow-duplicate" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert json.loads(facerec("people", "--json").stdout) == [{"name": "Joe Biden", "faces": 1}]
    allowed = facerec("add", "Joe Biden", biden, "--allow-duplicate")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(facerec("people", "--json").stdout) == [{"name": "Joe Biden", "faces": 2}]


def test_cli_messages_use_command_line_words(facerec, small_faces, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    biden = str(small_faces / "people/joe_biden/biden1.jpg")
    results = [
        facerec("add", "", biden),
        facerec("add", "Someone", str(text)),
        facerec("add", "Nobody", str(FACES_DIR / "groups/kit_and_rose.jpg")),
        facerec("check", str(tmp_path)),
        facerec("delete", "Nobody"),
    ]
    for result in results:
        assert result.returncode == 1
        words = re.findall(r"[a-z]+", result.stderr.casefold())
        assert not {"click", "button", "press", "type", "capture", "window"} & set(words), result.stderr


def test_prepare_converts_the_models_once_and_a_fresh_data_folder_then_converts_nothing(
    facerec, tmp_path: Path
) -> None:
    """Set-up's step: after `prepare`, a check in a fresh data folder needs neither a conversion nor the onnx
    package (which builds ONNX graphs): no model is converted on the user's path, nor a graph per image size."""
    models = tmp_path / "cache" / "models"
    prepared = facerec.process("prepare", env={"FACEREC_MODEL_DIR": str(models)})
    assert prepared.returncode == 0, prepared.stderr
    made = {path.name: path.stat().st_mtime_ns for path in models.iterdir()}
    assert len(made) == len(prepared.stdout.split()) >= 2
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in models.iterdir())
    assert facerec.process("prepare", env={"FACEREC_MODEL_DIR": str(models)}).returncode == 0
    assert {path.name: path.stat().st_mtime_ns for path in models.iterdir()} == made, "converted only once"

    without_onnx = missing_package(tmp_path / "no-onnx", "onnx")
    checked = facerec.process(
        "check",
        str(FACES_DIR / "people/rose_leslie/rose1.jpg"),  # 1 MP: the CNN detector's path
        "--json",
        env={
            "FACEREC_MODEL_DIR": str(models),
            "FACEREC_DATA_DIR": str(tmp_path / "fresh"),
            "PYTHONPATH": os.pathsep.join([str(without_onnx), str(ROOT)]),
        },
    )
    assert checked.returncode == 0, checked.stderr
    assert "unavailable" not in checked.stderr  # the converted models loaded, not dlib's own instead
    assert len(json.loads(checked.stdout)["faces"]) == 1
    assert {path.name: path.stat().st_mtime_ns for path in models.iterdir()} == made


def missing_package(folder: Path, name: str) -> Path:
    """A folder that, first on PYTHONPATH, makes `import name` fail as it does where the package is not installed."""
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\")\n")
    return folder


def test_rename_and_merge_through_the_cli(facerec, small_faces) -> None:
    rose = sorted((small_faces / "people/rose_leslie").iterdir())
    assert facerec("add", "Rose Lesley", str(rose[0])).returncode == 0
    renamed = facerec("rename", "rose lesley", "Rose Leslie")
    assert renamed.returncode == 0 and renamed.stdout == "Renamed Rose Lesley to Rose Leslie: 1 face\n"
    assert facerec("add", "Rose L", str(rose[1]), "--allow-duplicate").returncode == 0
    refused = facerec("rename", "Rose L", "Rose Leslie")
    assert refused.returncode == 1 and refused.stderr == (
        "error: Rose Leslie is already enrolled: say --merge to make the two one person.\n"
    )
    merged = facerec("rename", "Rose L", "Rose Leslie", "--merge")
    assert merged.returncode == 0 and "joining Rose Leslie's" in merged.stdout
    assert json.loads(facerec("people", "--json").stdout) == [{"name": "Rose Leslie", "faces": 2}]
    assert names_in(facerec("check", str(rose[1]), "--json")) == ["Rose Leslie"]


def test_a_collection_moves_to_another_data_folder_through_an_archive(facerec, small_faces, tmp_path: Path) -> None:
    kit = sorted((small_faces / "people/kit_harington").iterdir())
    assert facerec("add", "Kit Harington", str(kit[0]), str(kit[1])).returncode == 0
    secret = tmp_path / "passphrase.txt"
    secret.write_text("a long passphrase\n")
    archive = tmp_path / "kit.facerec"
    exported = facerec("export", str(archive), "--passphrase-file", str(secret))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == f"Exported 2 photos of 1 person to {archive}, protected by the passphrase\n"
    assert "2/2" in exported.stderr  # the progress bar

    elsewhere = {"FACEREC_DATA_DIR": str(tmp_path / "elsewhere")}
    refused = facerec("import", str(archive), env=elsewhere)
    assert refused.returncode == 1 and "protected by a passphrase" in refused.stderr
    imported = facerec("import", str(archive), "--passphrase-file", str(secret), env=elsewhere)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("Imported 2 of 2 photos: 0 already there, 0 still indexing, 0 refused")
    assert json.loads(facerec("people", "--json", env=elsewhere).stdout) == [{"name": "Kit Harington", "faces": 2}]
    assert names_in(facerec("check", str(kit[2]), "--json", env=elsewhere)) == ["Kit Harington"]
    again = facerec("import", str(archive), "--passphrase-file", str(secret), env=elsewhere)
    assert again.stdout.startswith("Imported 0 of 2 photos: 2 already there")

    dry = facerec("migrate", "--to", "aws", "--dry-run")
    assert (
        dry.returncode == 0 and "Would move 2 photos of 1 person to the aws back end: 2 IndexFaces calls" in dry.stdout
    )
    assert facerec("migrate", "--to", "local").returncode == 1  # already there


def test_the_demo_tells_apart_the_people_of_a_folder_or_those_enrolled(facerec, small_faces, tmp_path: Path) -> None:
    nobody = facerec("demo")
    assert nobody.returncode == 1 and "nobody is enrolled yet" in nobody.stderr
    friends = tmp_path / "friends"  # a folder a user makes: one subfolder of photos per person, any names
    for person, name in (("kit_harington", "Kit Harington"), ("rose_leslie", "Rosé Leslie")):
        shutil.copytree(small_faces / "people" / person, friends / name)
    shown = facerec("demo", str(friends))
    assert shown.returncode == 0, shown.stderr
    answers = [line.split(" -> ") for line in shown.stdout.splitlines() if " -> " in line]
    assert len(answers) == 3  # Kit's two photos and Rosé's one beyond the first each
    assert all(answer.startswith(label.split("/")[0]) for label, answer in answers), shown.stdout

    kit = sorted((small_faces / "people/kit_harington").iterdir())
    assert facerec("add", "Kit Harington", str(kit[0]), str(kit[1])).returncode == 0
    enrolled = facerec("demo")
    assert enrolled.returncode == 0, enrolled.stderr
    assert [line.split(" -> ")[1].split(" (")[0] for line in enrolled.stdout.splitlines() if " -> " in line] == [
        "Kit Harington"
    ]


def test_commands_run_in_one_process_leave_no_file_of_the_data_folder_open(
    facerec, tmp_path: Path, small_faces
) -> None:
    assert facerec("add", "Kit", str(small_faces / "people/kit_harington/kit1.jpg")).returncode == 0
    assert facerec("people").returncode == 0
    data = str((tmp_path / "data").resolve())
    assert not [fd for fd in Path("/proc/self/fd").iterdir() if fd.exists() and str(fd.readlink()).startswith(data)]
