"""`python -m facerec serve`: the local engine in Rekognition's JSON protocol, used by real clients.

A boto3 client with endpoint_url (botocore's serializer and parser, nothing of ours)
runs the operations against a server process; raw HTTP requests check what no
validating client would send; botocore's own JSON parser reads the error bodies.
"""

from __future__ import annotations

import base64
import json
import os
import re
import selectors
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from tests.conftest import ROOT, people

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
START_TIMEOUT = 60.0


@contextmanager
def running_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """`python -m facerec serve --port 0` in a process; yields its URL, read from its first line."""
    with server_process(env, log) as (url, _):
        yield url


@contextmanager
def server_process(env: dict[str, str], log: Path, *flags: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's URL and process."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "facerec", "serve", "--port", "0", *flags],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, f"the server did not start: {line!r}\n{log.read_text()}"
        yield found.group(0), process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


# The face models the run chose (tests/conftest.py keeps them in one folder for the session).
MODEL_SETTINGS = ("FACEREC_MODEL_DIR", "FACEREC_DESCRIPTOR", "FACEREC_DETECTOR")


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The server's environment: AWS credentials (the key pair it accepts) are FAKE_CREDENTIALS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FACEREC_"))}
    env.update({"FACEREC_DATA_DIR": str(data_dir), "FACEREC_BACKEND": "local", "AWS_REGION": "us-east-1"})
    env.update({k: v for k, v in os.environ.items() if k in MODEL_SETTINGS})  # the run's models, converted once
    env.update(
        {
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("serve")
    with running_server(server_env(folder / "data"), folder / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def rekognition(server: str):
    # No retries: an error must reach the test as the server sent it.
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("rekognition", endpoint_url=server, region_name="us-east-1", config=config, **FAKE_CREDENTIALS)


def photos() -> tuple[bytes, bytes, bytes]:
    """Two photos of one person and one of another."""
    everyone = people()
    first, second = sorted(everyone)[:2]
    return everyone[first][0].read_bytes(), everyone[first][1].read_bytes(), everyone[second][0].read_bytes()


def signed_headers(
    url: str, body: bytes, headers: dict[str, str], method: str = "POST", key: str = "testing", secret: str = "testing"
) -> dict[str, str]:
    """The headers with a SigV4 signature, as any AWS SDK signs (botocore's signer, client side)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), "rekognition", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def post(url: str, target: str | None, body: bytes, sign: bool = True) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    if sign:
        headers = signed_headers(url, body, headers)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def parsed_error(status: int, headers: dict, body: bytes, operation: str = "ListCollections") -> dict:
    """The error as botocore itself reads it from a JSON-protocol response."""
    model = botocore.session.get_session().get_service_model("rekognition").operation_model(operation)
    response = {"status_code": status, "headers": headers, "body": body}
    return create_parser("json").parse(response, model.output_shape)["Error"]


def test_collections_round_trip_with_boto3(rekognition) -> None:
    created = rekognition.create_collection(CollectionId="round-trip")
    assert created["StatusCode"] == 200
    assert created["CollectionArn"].endswith(":collection/round-trip")
    described = rekognition.describe_collection(CollectionId="round-trip")
    # Epoch seconds on the wire, a datetime after botocore's parser: the protocol's timestamps.
    assert isinstance(described["CreationTimestamp"], datetime)
    assert described["FaceCount"] == 0
    assert "round-trip" in rekognition.list_collections()["CollectionIds"]
    with pytest.raises(rekognition.exceptions.ResourceAlreadyExistsException):
        rekognition.create_collection(CollectionId="round-trip")
    assert rekognition.delete_collection(CollectionId="round-trip")["StatusCode"] == 200
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException) as raised:
        rekognition.describe_collection(CollectionId="round-trip")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "round-trip" in raised.value.response["Error"]["Message"]


def test_collections_belong_to_the_region_the_client_signs_for(server: str, rekognition) -> None:
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    ireland = boto3.client(
        "rekognition", endpoint_url=server, region_name="eu-west-1", config=config, **FAKE_CREDENTIALS
    )
    made = ireland.create_collection(CollectionId="regional")
    try:
        assert made["CollectionArn"].startswith("arn:aws:rekognition:eu-west-1:")
        assert "regional" in ireland.list_collections()["CollectionIds"]
        assert "regional" not in rekognition.list_collections()["CollectionIds"]
        with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
            rekognition.describe_collection(CollectionId="regional")
        # The same name is free in another region, as on AWS.
        here = rekognition.create_collection(CollectionId="regional")
        assert here["CollectionArn"].startswith("arn:aws:rekognition:us-east-1:")
        rekognition.delete_collection(CollectionId="regional")
        assert ireland.describe_collection(CollectionId="regional")["FaceCount"] == 0
    finally:
        ireland.delete_collection(CollectionId="regional")


def test_faces_index_search_detect_and_paginate(rekognition) -> None:
    same_a, same_b, other = photos()
    rekognition.create_collection(CollectionId="faces")
    indexed = rekognition.index_faces(
        CollectionId="faces", Image={"Bytes": same_a}, ExternalImageId="person-a", MaxFaces=1, QualityFilter="AUTO"
    )
    [record] = indexed["FaceRecords"]
    assert record["Face"]["ExternalImageId"] == "person-a"
    assert 0 < record["Face"]["BoundingBox"]["Width"] <= 1
    rekognition.index_faces(CollectionId="faces", Image={"Bytes": other}, ExternalImageId="person-b")

    found = rekognition.search_faces_by_image(CollectionId="faces", Image={"Bytes": same_b}, FaceMatchThreshold=80)
    assert [m["Face"]["ExternalImageId"] for m in found["FaceMatches"]] == ["person-a"]
    assert found["FaceMatches"][0]["Similarity"] > 90
    assert rekognition.detect_faces(Image={"Bytes": same_b})["FaceDetails"][0]["Confidence"] > 90

    pages = list(rekognition.get_paginator("list_faces").paginate(CollectionId="faces", MaxResults=1))
    assert [len(page["Faces"]) for page in pages] == [1, 1]
    ids = [page["Faces"][0]["FaceId"] for page in pages]
    deleted = rekognition.delete_faces(CollectionId="faces", FaceIds=ids[:1])
    assert deleted["DeletedFaces"] == ids[:1]


def test_engine_errors_arrive_as_rekognition_errors(rekognition) -> None:
    rekognition.create_collection(CollectionId="errors")
    with pytest.raises(rekognition.exceptions.InvalidImageFormatException):
        rekognition.detect_faces(Image={"Bytes": b"not an image"})
    with pytest.raises(rekognition.exceptions.ClientError, match="ValidationException") as raised:
        rekognition.index_faces(
            CollectionId="errors", Image={"Bytes": photos()[0]}, ExternalImageId="no spaces allowed"
        )
    assert "externalimageid" in raised.value.response["Error"]["Message"].lower()


def test_operation_the_engine_lacks_is_unknown(rekognition) -> None:
    with pytest.raises(rekognition.exceptions.ClientError) as raised:
        rekognition.describe_projects()
    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"


def test_raw_protocol_errors(server: str) -> None:
    status, headers, body = post(server, "RekognitionService.NoSuchThing", b"{}")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"
    assert parsed_error(status, headers, body)["Code"] == "UnknownOperationException"

    status, headers, body = post(server, None, b"{}")
    assert (status, parsed_error(status, headers, body)["Code"]) == (400, "UnknownOperationException")

    status, headers, body = post(server, "RekognitionService.ListCollections", b"{not json")
    assert (status, parsed_error(status, headers, body)["Code"]) == (400, "SerializationException")

    # A parameter a validating client would refuse to send: the engine's validator answers.
    status, headers, body = post(server, "RekognitionService.ListCollections", b'{"MaxResults": "many"}')
    error = parsed_error(status, headers, body)
    assert (status, error["Code"]) == (400, "ValidationException")
    assert "MaxResults" in error["Message"]

    bad_blob = json.dumps({"Image": {"Bytes": "***"}}).encode()
    status, headers, body = post(server, "RekognitionService.DetectFaces", bad_blob)
    assert (status, parsed_error(status, headers, body, "DetectFaces")["Code"]) == (400, "SerializationException")


def test_raw_request_with_base64_blob(server: str) -> None:
    body = json.dumps({"Image": {"Bytes": base64.b64encode(photos()[0]).decode()}}).encode()
    status, headers, answer = post(server, "RekognitionService.DetectFaces", body)
    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    details = json.loads(answer)["FaceDetails"]
    assert len(details) == 1
    assert set(details[0]) <= {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}


def test_encode_follows_the_output_shape() -> None:
    """Only modelled members, numbers as JSON numbers even from numpy, datetimes as epoch seconds."""
    import numpy as np

    from facerec.server import encode

    model = botocore.session.get_session().get_service_model("rekognition")
    shape = model.operation_model("DescribeCollection").output_shape
    moment = datetime(2024, 1, 2, 3, 4, 5)
    encoded = encode({"FaceCount": np.int64(3), "CreationTimestamp": moment, "ResponseMetadata": {}, "Extra": 1}, shape)
    assert encoded == {"FaceCount": 3, "CreationTimestamp": 1704164645.0}
    assert json.dumps(encoded)


# Who may call: SigV4 on every request


def client_with(server: str, **options):
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, **options.pop("config", {}))
    credentials = {**FAKE_CREDENTIALS, **options}
    return boto3.client("rekognition", endpoint_url=server, region_name="us-east-1", config=config, **credentials)


def collection_ids(rekognition) -> list[str]:
    return rekognition.list_collections()["CollectionIds"]


def error_of(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_unsigned_requests_are_refused_and_change_nothing(server: str, rekognition) -> None:
    from botocore import UNSIGNED

    rekognition.create_collection(CollectionId="guarded")
    anonymous = client_with(server, config={"signature_version": UNSIGNED})
    code, status, message = error_of(lambda: anonymous.delete_collection(CollectionId="guarded"))
    assert (code, status, message) == ("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    # A bare POST, as the issue found, deletes nothing either.
    body = json.dumps({"CollectionId": "guarded"}).encode()
    status, headers, answer = post(server, "RekognitionService.DeleteCollection", body, sign=False)
    assert (status, parsed_error(status, headers, answer)["Code"]) == (403, "MissingAuthenticationTokenException")
    assert "guarded" in collection_ids(rekognition)


def test_unknown_keys_and_bad_signatures_are_refused(server: str, rekognition) -> None:
    rekognition.create_collection(CollectionId="keys")
    stranger = client_with(server, aws_access_key_id="AKIAUNKNOWNKEY000000")
    assert error_of(lambda: stranger.delete_collection(CollectionId="keys"))[:2] == (
        "UnrecognizedClientException",
        403,
    )
    wrong_secret = client_with(server, aws_secret_access_key="not-the-secret")
    code, status, message = error_of(lambda: wrong_secret.delete_collection(CollectionId="keys"))
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "keys" in collection_ids(rekognition)


def test_a_tampered_body_or_a_stale_date_is_refused(server: str, rekognition) -> None:
    rekognition.create_collection(CollectionId="tamper")
    signed_for = json.dumps({"CollectionId": "other"}).encode()
    sent = json.dumps({"CollectionId": "tamper"}).encode()
    headers = signed_headers(
        server, signed_for, {"Content-Type": CONTENT, "X-Amz-Target": "RekognitionService.DeleteCollection"}
    )
    status, answer_headers, answer = raw_post(server, sent, headers)
    assert (status, parsed_error(status, answer_headers, answer)["Code"]) == (403, "InvalidSignatureException")

    stale = signed_headers_at(server, sent, "RekognitionService.DeleteCollection", minutes_ago=10)
    status, answer_headers, answer = raw_post(server, sent, stale)
    error = parsed_error(status, answer_headers, answer)
    assert (status, error["Code"]) == (403, "InvalidSignatureException")
    assert re.fullmatch(
        r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)",
        error["Message"],
    )
    assert "tamper" in collection_ids(rekognition)


def test_the_aws_cli_signs_and_is_checked(server: str, rekognition, tmp_path: Path) -> None:
    rekognition.create_collection(CollectionId="cli")
    good = aws_cli(server, tmp_path, "rekognition", "describe-collection", "--collection-id", "cli")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["CollectionARN"] == "arn:aws:rekognition:us-east-1:000000000000:collection/cli"
    bad = aws_cli(server, tmp_path, "rekognition", "delete-collection", "--collection-id", "cli", secret="wrong")
    assert bad.returncode != 0 and "InvalidSignatureException" in bad.stderr
    assert "cli" in collection_ids(rekognition)


CONTENT = "application/x-amz-json-1.1"


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def signed_headers_at(url: str, body: bytes, target: str, minutes_ago: float) -> dict[str, str]:
    """Headers signed as a client whose clock is `minutes_ago` behind would sign them."""
    from datetime import timedelta, timezone
    from unittest import mock

    import botocore.auth

    past = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=minutes_ago)
    with mock.patch.object(botocore.auth.datetime, "datetime", wraps=datetime) as clock:
        clock.utcnow.return_value = past
        clock.now.return_value = past
        return signed_headers(url, body, {"Content-Type": CONTENT, "X-Amz-Target": target})


def aws_cli(server: str, folder: Path, *args: str, secret: str = "testing") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_MAX_ATTEMPTS": "1",
        }
    )
    return subprocess.run(
        ["aws", "--endpoint-url", server, "--output", "json", *args],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )


# Every constraint of the model, checked before anything changes


@pytest.fixture(scope="module")
def unchecked(server: str):
    """boto3 without client-side validation: it sends whatever it is given, as other SDKs may."""
    return client_with(server, config={"parameter_validation": False})


@pytest.fixture(scope="module")
def indexed(rekognition) -> str:
    """A collection with one face; tests check it keeps exactly that."""
    rekognition.create_collection(CollectionId="constraints")
    rekognition.index_faces(CollectionId="constraints", Image={"Bytes": photos()[0]}, ExternalImageId="someone")
    return "constraints"


def state(rekognition, collection: str) -> tuple:
    faces = rekognition.list_faces(CollectionId=collection)["Faces"]
    users = rekognition.list_users(CollectionId=collection)["Users"]
    return (
        sorted(f["FaceId"] for f in faces),
        users,
        rekognition.describe_collection(CollectionId=collection)["FaceCount"],
    )


def bad_calls(collection: str, image: bytes) -> dict:
    """Requests that break one constraint of the model each, with the message AWS gives."""
    return {
        "enum": (
            "index_faces",
            {"CollectionId": collection, "Image": {"Bytes": image}, "QualityFilter": "BEST"},
            "1 validation error detected: Value 'BEST' at 'qualityFilter' failed to satisfy constraint: "
            "Member must satisfy enum value set: [NONE, AUTO, LOW, MEDIUM, HIGH]",
        ),
        "enum in a list": (
            "index_faces",
            {"CollectionId": collection, "Image": {"Bytes": image}, "DetectionAttributes": ["EYES"]},
            "1 validation error detected: Value '[EYES]' at 'detectionAttributes' failed to satisfy constraint: "
            "Member must satisfy constraint: [Member must satisfy enum value set: "
            "[DEFAULT, ALL, AGE_RANGE, BEARD, EMOTIONS, EYE_DIRECTION, EYEGLASSES, EYES_OPEN, GENDER, "
            "MOUTH_OPEN, MUSTACHE, FACE_OCCLUDED, SMILE, SUNGLASSES]]",
        ),
        "huge number": (
            "list_faces",
            {"CollectionId": collection, "MaxResults": 10**30},
            f"1 validation error detected: Value '{10**30}' at 'maxResults' failed to satisfy constraint: "
            "Member must have value less than or equal to 4096",
        ),
        "threshold over 100": (
            "search_faces_by_image",
            {"CollectionId": collection, "Image": {"Bytes": image}, "FaceMatchThreshold": 150.0},
            "1 validation error detected: Value '150.0' at 'faceMatchThreshold' failed to satisfy constraint: "
            "Member must have value less than or equal to 100",
        ),
        "pattern in a list": (
            "delete_faces",
            {"CollectionId": collection, "FaceIds": ["not-a-uuid"]},
            "1 validation error detected: Value '[not-a-uuid]' at 'faceIds' failed to satisfy constraint: "
            "Member must satisfy constraint: [Member must satisfy regular expression pattern: "
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}]",
        ),
        "two at once": (
            "create_user",
            {"CollectionId": collection, "UserId": "has space", "ClientRequestToken": "x" * 65},
            "2 validation errors detected: Value 'has space' at 'userId' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-:]+; "
            f"Value '{'x' * 65}' at 'clientRequestToken' failed to satisfy constraint: "
            "Member must have length less than or equal to 64",
        ),
        "list too long": (
            "associate_faces",
            {"CollectionId": collection, "UserId": "u", "FaceIds": [str(uuid.uuid4()) for _ in range(101)]},
            None,
        ),
        "nested member": (
            "detect_faces",
            {"Image": {"S3Object": {"Bucket": "photos", "Name": "n", "Version": ""}}},
            "1 validation error detected: Value '' at 'image.s3Object.version' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "enum",
        "enum in a list",
        "huge number",
        "threshold over 100",
        "pattern in a list",
        "two at once",
        "list too long",
        "nested member",
    ],
)
def test_model_constraints_are_answered_as_aws_does(unchecked, rekognition, indexed: str, case: str) -> None:
    method, params, expected = bad_calls(indexed, photos()[1])[case]
    before = state(rekognition, indexed)
    code, status, message = error_of(lambda: getattr(unchecked, method)(**params))
    assert (code, status) == ("ValidationException", 400)
    if expected:
        assert message == expected
    assert state(rekognition, indexed) == before


def test_wrong_types_and_unknown_members_are_validation_errors(
    server: str, unchecked, rekognition, indexed: str
) -> None:
    before = state(rekognition, indexed)
    for params in (
        {"CollectionId": indexed, "FaceIds": "not a list"},
        {"CollectionId": 5, "FaceIds": [str(uuid.uuid4())]},
    ):
        assert error_of(lambda params=params: unchecked.delete_faces(**params))[:2] == ("ValidationException", 400)
    # No SDK sends a member the model lacks; raw JSON can, and it is named in the answer.
    body = json.dumps({"CollectionId": indexed, "FaceIds": [str(uuid.uuid4())], "Extra": 1}).encode()
    status, headers, answer = post(server, "RekognitionService.DeleteFaces", body)
    error = parsed_error(status, headers, answer)
    assert (status, error["Code"]) == (400, "ValidationException") and "Extra" in error["Message"]
    assert state(rekognition, indexed) == before


def test_the_aws_cli_gets_the_models_limits(server: str, rekognition, indexed: str, tmp_path: Path) -> None:
    before = state(rekognition, indexed)
    image = tmp_path / "face.jpg"
    image.write_bytes(photos()[1])
    run = aws_cli(
        server,
        tmp_path,
        "rekognition",
        "index-faces",
        "--collection-id",
        indexed,
        "--image-bytes",
        f"fileb://{image}",
        "--quality-filter",
        "BEST",
    )
    assert run.returncode != 0
    assert "(ValidationException)" in run.stderr and "Member must satisfy enum value set" in run.stderr
    run = aws_cli(server, tmp_path, "rekognition", "list-faces", "--collection-id", indexed, "--max-results", "99999")
    assert run.returncode != 0 and "(ValidationException)" in run.stderr
    assert state(rekognition, indexed) == before


def raw(server: str, request: bytes, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send bytes as they are over a socket; the status, headers and body of the answer."""
    import http.client
    import socket

    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def detect_faces_at_once(server: str, body: bytes, count: int, timeout: float, answered=None) -> list[str]:
    """`count` signed DetectFaces requests sent together: "OK" or the error code of each answer.

    `answered(codes)` is called after each answer."""
    codes: list[str] = []

    def detect() -> None:
        status, headers, answer = raw(server, signed_request(server, body, "RekognitionService.DetectFaces"), timeout)
        codes.append("OK" if status == 200 else parsed_error(status, headers, answer, "DetectFaces")["Code"])
        if answered:
            answered(codes)

    threads = [threading.Thread(target=detect) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
    return codes


def signed_request(server: str, body: bytes, target: str | None, method: str = "POST", **extra: str) -> bytes:
    """A signed HTTP request as bytes; `extra` headers are added after signing (not signed)."""
    headers = {"Content-Type": CONTENT, **({"X-Amz-Target": target} if target else {})}
    headers = signed_headers(server, body, headers, method=method)
    headers.setdefault("Host", server.removeprefix("http://"))
    if "Transfer-Encoding" not in extra:
        headers["Content-Length"] = str(len(body))
    headers.update(extra)
    lines = [f"{method} / HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_malformed_requests_get_aws_shaped_answers_never_500(server: str, rekognition, indexed: str) -> None:
    before = state(rekognition, indexed)
    delete = "RekognitionService.DeleteCollection"
    body = json.dumps({"CollectionId": indexed}).encode()
    cases = {
        "not JSON": (signed_request(server, b"{not json", delete), 400, "SerializationException"),
        "JSON array": (signed_request(server, b"[1, 2]", delete), 400, "SerializationException"),
        "NaN": (
            signed_request(server, b'{"MaxResults": NaN}', "RekognitionService.ListCollections"),
            400,
            "SerializationException",
        ),
        "5000 digits": (
            signed_request(server, b'{"MaxResults": ' + b"9" * 5000 + b"}", "RekognitionService.ListCollections"),
            400,
            "SerializationException",
        ),
        "deep nesting": (
            signed_request(server, b'{"CollectionId": ' + b"[" * 100000 + b"]" * 100000 + b"}", delete),
            400,
            "SerializationException",
        ),
        "no target": (signed_request(server, body, None), 400, "UnknownOperationException"),
        "unknown target": (signed_request(server, body, "RekognitionService.Nope"), 400, "UnknownOperationException"),
        "other service": (
            signed_request(server, body, "DynamoDB_20120810.DeleteTable"),
            400,
            "UnknownOperationException",
        ),
        "GET": (signed_request(server, b"", delete, method="GET"), 400, "UnknownOperationException"),
        "PUT": (signed_request(server, body, delete, method="PUT"), 400, "UnknownOperationException"),
        "DELETE": (signed_request(server, b"", delete, method="DELETE"), 400, "UnknownOperationException"),
        "unsigned GET": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 403, "MissingAuthenticationTokenException"),
        "bad length": (
            signed_request(server, body, delete, **{"Content-Length": "ten"}),
            400,
            "SerializationException",
        ),
        "huge length": (
            signed_request(server, body, delete, **{"Content-Length": str(10**12)}),
            413,
            "ValidationException",
        ),
        "other encoding": (
            signed_request(server, body, delete, **{"Transfer-Encoding": "gzip"}),
            501,
            "SerializationException",
        ),
        "garbage line": (b"\x00\x01\x02 nonsense\r\n\r\n", 400, "SerializationException"),
    }
    for name, (request, status, code) in cases.items():
        got_status, headers, answer = raw(server, request)
        assert (got_status, parsed_error(got_status, headers, answer)["Code"]) == (status, code), name
        assert headers["Content-Type"] == CONTENT, name
    assert state(rekognition, indexed) == before


def test_a_chunked_body_is_read_and_signed_as_sent(server: str, rekognition) -> None:
    body = json.dumps({"CollectionId": "chunked"}).encode()
    request = signed_request(server, b"", "RekognitionService.CreateCollection")
    head = request.split(b"\r\n\r\n")[0].replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    # Signed over the whole body, sent in 7-byte chunks.
    resigned = signed_request(server, body, "RekognitionService.CreateCollection", **{"Transfer-Encoding": "chunked"})
    head = resigned.split(b"\r\n\r\n")[0]
    status, _, answer = raw(server, head + b"\r\n\r\n" + chunked(body))
    assert status == 200, answer
    assert "chunked" in collection_ids(rekognition)


# Users: one person across several photos


def person_photos() -> tuple[list[bytes], list[bytes]]:
    """Three photos of the first person with three, and the photos of another person."""
    everyone = people()
    names = sorted(n for n in everyone if len(everyone[n]) >= 3)
    other = sorted(n for n in everyone if n != names[0])[0]
    return [p.read_bytes() for p in everyone[names[0]][:3]], [p.read_bytes() for p in everyone[other]]


def test_users_match_a_person_across_photos(rekognition) -> None:
    mine, theirs = person_photos()
    rekognition.create_collection(CollectionId="users")
    faces = [
        rekognition.index_faces(CollectionId="users", Image={"Bytes": data})["FaceRecords"][0]["Face"]["FaceId"]
        for data in (mine[0], mine[1], theirs[0])
    ]
    assert rekognition.create_user(CollectionId="users", UserId="alice")["ResponseMetadata"]["HTTPStatusCode"] == 200
    rekognition.create_user(CollectionId="users", UserId="bob")
    assert rekognition.list_users(CollectionId="users")["Users"] == [
        {"UserId": "alice", "UserStatus": "CREATED"},
        {"UserId": "bob", "UserStatus": "CREATED"},
    ]
    first = rekognition.associate_faces(CollectionId="users", UserId="alice", FaceIds=faces[:1])
    assert (first["AssociatedFaces"], first["UserStatus"]) == ([{"FaceId": faces[0]}], "ACTIVE")
    # Another person's face does not join alice: LOW_MATCH_CONFIDENCE; a made-up id: FACE_NOT_FOUND.
    missing = str(uuid.uuid4())
    more = rekognition.associate_faces(CollectionId="users", UserId="alice", FaceIds=[faces[1], faces[2], missing])
    assert more["AssociatedFaces"] == [{"FaceId": faces[1]}]
    reasons = {f["FaceId"]: f["Reasons"] for f in more["UnsuccessfulFaceAssociations"]}
    assert reasons == {faces[2]: ["LOW_MATCH_CONFIDENCE"], missing: ["FACE_NOT_FOUND"]}
    rekognition.associate_faces(CollectionId="users", UserId="bob", FaceIds=[faces[2]])
    taken = rekognition.associate_faces(CollectionId="users", UserId="bob", FaceIds=[faces[0]])
    assert taken["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]

    assert rekognition.describe_collection(CollectionId="users")["UserCount"] == 2
    listed = rekognition.list_faces(CollectionId="users", UserId="alice")["Faces"]
    assert sorted(f["FaceId"] for f in listed) == sorted(faces[:2]) and {f["UserId"] for f in listed} == {"alice"}

    by_image = rekognition.search_users_by_image(CollectionId="users", Image={"Bytes": mine[2]})
    assert [m["User"]["UserId"] for m in by_image["UserMatches"]] == ["alice"]
    assert by_image["UserMatches"][0]["Similarity"] > 90 and "SearchedFace" in by_image
    by_face = rekognition.search_users(CollectionId="users", FaceId=faces[2])
    assert [m["User"]["UserId"] for m in by_face["UserMatches"]] == ["bob"]
    assert rekognition.search_users(CollectionId="users", UserId="alice")["UserMatches"] == []  # nobody else

    # A face of a user is not deleted; the answer says why.
    refused = rekognition.delete_faces(CollectionId="users", FaceIds=[faces[0], missing])
    assert refused["DeletedFaces"] == []
    assert {(u["FaceId"], tuple(u["Reasons"])) for u in refused["UnsuccessfulFaceDeletions"]} == {
        (faces[0], ("ASSOCIATED_TO_AN_EXISTING_USER",)),
        (missing, ("FACE_NOT_FOUND",)),
    }
    gone = rekognition.disassociate_faces(CollectionId="users", UserId="alice", FaceIds=faces[:2])
    assert (len(gone["DisassociatedFaces"]), gone["UserStatus"]) == (2, "CREATED")
    rekognition.delete_user(CollectionId="users", UserId="alice")
    assert error_of(lambda: rekognition.delete_user(CollectionId="users", UserId="alice"))[0] == (
        "ResourceNotFoundException"
    )
    assert rekognition.describe_collection(CollectionId="users")["UserCount"] == 1


def test_client_request_tokens_make_user_calls_idempotent(rekognition) -> None:
    rekognition.create_collection(CollectionId="tokens")
    rekognition.create_user(CollectionId="tokens", UserId="carol", ClientRequestToken="retry-1")
    # A retry with the same token is the same request: answered again, not a conflict.
    rekognition.create_user(CollectionId="tokens", UserId="carol", ClientRequestToken="retry-1")
    assert error_of(lambda: rekognition.create_user(CollectionId="tokens", UserId="carol"))[0] == "ConflictException"
    code = error_of(lambda: rekognition.create_user(CollectionId="tokens", UserId="dave", ClientRequestToken="retry-1"))
    assert code[0] == "IdempotentParameterMismatchException"
    assert rekognition.list_users(CollectionId="tokens")["Users"] == [{"UserId": "carol", "UserStatus": "CREATED"}]


# Shapes as AWS documents them


def test_shapes_follow_aws_documentation(rekognition) -> None:
    from botocore.utils import ArnParser

    created = rekognition.create_collection(CollectionId="shapes", Tags={"team": "faces", "stage": "test"})
    arn = ArnParser().parse_arn(created["CollectionArn"])
    assert arn == {
        "partition": "aws",
        "service": "rekognition",
        "region": "us-east-1",
        "account": "000000000000",
        "resource": "collection/shapes",
    }
    assert rekognition.describe_collection(CollectionId="shapes")["CollectionARN"] == created["CollectionArn"]
    # A version number, as AWS's "Version number of the face detection model" ("7.0" today).
    assert re.fullmatch(r"\d+\.\d+", created["FaceModelVersion"])
    assert rekognition.list_tags_for_resource(ResourceArn=created["CollectionArn"])["Tags"] == {
        "team": "faces",
        "stage": "test",
    }
    rekognition.tag_resource(ResourceArn=created["CollectionArn"], Tags={"owner": "lab"})
    rekognition.untag_resource(ResourceArn=created["CollectionArn"], TagKeys=["stage"])
    assert rekognition.list_tags_for_resource(ResourceArn=created["CollectionArn"])["Tags"] == {
        "team": "faces",
        "owner": "lab",
    }
    elsewhere = created["CollectionArn"].replace("collection/shapes", "collection/none")
    assert error_of(lambda: rekognition.list_tags_for_resource(ResourceArn=elsewhere))[0] == (
        "ResourceNotFoundException"
    )
    code, _, message = error_of(
        lambda: rekognition.tag_resource(ResourceArn=created["CollectionArn"], Tags={"aws:x": "y"})
    )
    assert code == "ValidationException" and "Map keys must satisfy constraint" in message


def test_s3_object_version_is_refused_where_there_are_no_versions(rekognition) -> None:
    ref = {"S3Object": {"Bucket": "facerec-images", "Name": "index/nobody.jpg", "Version": "3sL4kqtJlcpXroDTDmJ"}}
    assert error_of(lambda: rekognition.detect_faces(Image=ref))[0] == "InvalidS3ObjectException"


# Under load


READ_TIMEOUT = 2.0
MEMORY_CAP_MB = 1200  # the server's peak RSS (VmHWM) through the burst below


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def watch_closing(sockets: list[tuple], closed_after: list[float], timeout: float) -> None:
    """For each (socket, time sent) the server closes without a word, append the seconds it took."""
    import time

    start = time.monotonic()
    with selectors.DefaultSelector() as selector:
        for sock, sent in sockets:
            selector.register(sock, selectors.EVENT_READ, sent)
        while selector.get_map() and time.monotonic() - start < timeout:
            for key, _ in selector.select(0.2):
                try:
                    data = key.fileobj.recv(1)
                except ConnectionResetError:
                    data = b""
                if data == b"":
                    closed_after.append(time.monotonic() - key.data)
                selector.unregister(key.fileobj)


def test_a_burst_of_connections_and_half_sent_requests(tmp_path: Path) -> None:
    """60 complete requests at once (a third of them with photos) among 300 half-sent ones."""
    import socket
    import time

    env = server_env(tmp_path / "data")
    with server_process(env, tmp_path / "server.log", "--read-timeout", str(READ_TIMEOUT)) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        photo = base64.b64encode(photos()[0]).decode()
        slow = []
        whole = signed_request(
            url, json.dumps({"CollectionId": "never-made"}).encode(), "RekognitionService.CreateCollection"
        )
        for index in range(300):
            sock = socket.create_connection((host, int(port)), timeout=30)
            # Half the headers, or the signed headers and half the body; then nothing more.
            cut = whole.index(b"\r\n\r\n") // 2 if index % 2 else len(whole) - 10
            sock.sendall(whole[:cut])
            slow.append((sock, time.monotonic()))
        closed_after: list[float] = []
        watcher = threading.Thread(target=watch_closing, args=(slow, closed_after, READ_TIMEOUT * 10))
        watcher.start()
        answers: list[int] = []

        def complete(index: int) -> None:
            if index % 3 == 0:
                body, target = json.dumps({"Image": {"Bytes": photo}}).encode(), "RekognitionService.DetectFaces"
            else:
                body, target = b"{}", "RekognitionService.ListCollections"
            status, _, _ = raw(url, signed_request(url, body, target), timeout=120)
            answers.append(status)

        threads = [threading.Thread(target=complete, args=(i,)) for i in range(60)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        watcher.join()
        for sock, _ in slow:
            sock.close()
        assert sorted(answers) == [200] * 60
        # Every half-sent request dropped, once its deadline passed (give or take the watchdog's period
        # and a busy server's scheduling), without an answer.
        assert len(closed_after) == 300
        print(f"half-sent requests dropped after {min(closed_after):.1f} to {max(closed_after):.1f} s")
        assert READ_TIMEOUT * 0.9 <= min(closed_after) and max(closed_after) <= READ_TIMEOUT + 5
        peak = peak_rss_mb(process.pid)
        print(f"server peak RSS {peak:.0f} MB through 60 complete and 300 half-sent requests")
        assert peak < MEMORY_CAP_MB
        # The server still answers, and none of the half-sent requests ran.
        status, _, answer = raw(url, signed_request(url, b"{}", "RekognitionService.ListCollections"))
        assert status == 200 and json.loads(answer)["CollectionIds"] == []


# The models (about 0.5 GB) and the server's 2 GB memory budget; without the budget, two 40 MP photos
# analysed at once took it past 3 GB.
BIG_IMAGES_CAP_MB = 2600


def big_jpeg() -> bytes:
    """A 40-megapixel JPEG (just under the engine's limit) of under 1 MB: cheap to send, costly to decode."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (7200, 5500), (120, 130, 140))
    draw = ImageDraw.Draw(image)
    for x in range(0, 7200, 400):
        draw.line([(x, 0), (x, 5500)], fill=(10, 10, 10), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


def test_big_images_at_once_stay_within_the_memory_budget(tmp_path: Path) -> None:
    """Six 40 MP images at once: decoded a few at a time, the rest wait or are throttled as AWS throttles."""
    body = json.dumps({"Image": {"Bytes": base64.b64encode(big_jpeg()).decode()}}).encode()
    with server_process(server_env(tmp_path / "data"), tmp_path / "server.log") as (url, process):
        codes = detect_faces_at_once(url, body, 6, timeout=180)
        peak = peak_rss_mb(process.pid)
        print(f"six 40 MP images at once: {sorted(codes)}, server peak RSS {peak:.0f} MB")
        assert len(codes) == 6 and set(codes) <= {"OK", "ProvisionedThroughputExceededException"}
        assert "OK" in codes
        assert peak < BIG_IMAGES_CAP_MB


# Starting the server


def test_without_credentials_it_makes_a_private_pair_and_says_how_to_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = server_env(tmp_path / "data")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    with server_process(env, tmp_path / "server.log") as (url, process):
        advice = process.stdout.readline() + process.stdout.readline()
        made = tmp_path / "data" / "server-credentials"
        assert made.stat().st_mode & 0o777 == 0o600
        assert f"AWS_SHARED_CREDENTIALS_FILE={made}" in advice and "AWS_PROFILE=facerec-local" in advice
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(made))
        session = boto3.Session(profile_name="facerec-local")
        client = session.client("rekognition", endpoint_url=url, region_name="us-east-1")
        assert client.list_collections()["CollectionIds"] == []
        # The environment's usual test keys are not among those it accepts.
        assert error_of(lambda: client_with(url).list_collections())[0] == "UnrecognizedClientException"


def test_an_address_other_machines_reach_needs_a_flag(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    refused = subprocess.run(
        [sys.executable, "-m", "facerec", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "--allow-remote" in refused.stderr
    with server_process(env, tmp_path / "server.log", "--host", "0.0.0.0", "--allow-remote") as (url, _):
        port = url.rsplit(":", 1)[1]
        assert client_with(f"http://127.0.0.1:{port}").list_collections()["CollectionIds"] == []
    assert "warning: serving on 0.0.0.0" in (tmp_path / "server.log").read_text()


@contextmanager
def in_process_server(tmp_path: Path, limits, engine=None) -> Iterator[str]:
    """The server in a thread of this process, with the given limits and the test key pair."""

    from facerec import sigv4
    from facerec.server import make_server

    pair = sigv4.KeyPair(FAKE_CREDENTIALS["aws_access_key_id"], FAKE_CREDENTIALS["aws_secret_access_key"], None)
    engine = engine or local_engine(tmp_path)
    server = make_server(engine, "127.0.0.1", 0, [pair], limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_connections_over_the_cap_are_told_to_slow_down(tmp_path: Path) -> None:
    import socket

    from facerec.server import Limits

    with in_process_server(tmp_path, Limits(max_connections=3, read_timeout=5)) as url:
        host, port = url.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(3)]
        status, headers, answer = raw(url, signed_request(url, b"{}", "RekognitionService.ListCollections"))
        assert (status, parsed_error(status, headers, answer)["Code"]) == (400, "ThrottlingException")
        held.pop().close()
        time.sleep(0.5)
        assert raw(url, signed_request(url, b"{}", "RekognitionService.ListCollections"))[0] == 200
        for sock in held:
            sock.close()


def local_engine(tmp_path: Path):
    from dataclasses import replace

    from facerec.clients import local_backend
    from facerec.settings import load

    return local_backend(replace(load(env_file=None), data_dir=tmp_path / "data")).rekognition


def engine_whose_detection_waits(tmp_path: Path, gate: threading.Event):
    """A real engine whose DetectFaces holds its worker until `gate` opens, so requests surely overlap."""
    engine = local_engine(tmp_path)
    detect_faces = engine.detect_faces

    def held_detect_faces(**params):
        gate.wait(60)
        return detect_faces(**params)

    held_detect_faces.operation_name = detect_faces.operation_name
    engine.detect_faces = held_detect_faces
    return engine


def test_work_beyond_the_workers_is_throttled_as_aws_throttles(tmp_path: Path) -> None:
    from facerec.server import Limits

    body = json.dumps({"Image": {"Bytes": base64.b64encode(photos()[0]).decode()}}).encode()
    gate = threading.Event()
    engine = engine_whose_detection_waits(tmp_path, gate)
    with in_process_server(tmp_path, Limits(workers=1, queue_wait=0.05), engine) as url:
        # The one worker stays busy until the three other requests have been answered.
        codes = detect_faces_at_once(url, body, 4, timeout=30, answered=lambda codes: len(codes) >= 3 and gate.set())
    assert sorted(codes) == ["OK"] + ["ProvisionedThroughputExceededException"] * 3


ODD_VALUES = [None, True, 0, -1, 1.5, 10**30, 1e308, "", "x", "ü" * 300, [], [1], ["x"], {}, {"a": 1}, {"Bytes": 5}]


def test_no_request_of_any_shape_gets_a_500(server: str, rekognition) -> None:
    """Every member of every operation the engine serves, given values of every JSON type."""
    import http.client

    from facerec.local.rekognition import LocalRekognition

    rekognition.create_collection(CollectionId="fuzz")
    blank = base64.b64encode(big_jpeg_small()).decode()
    valid = {
        "CollectionId": "fuzz",
        "UserId": "u",
        "FaceId": str(uuid.uuid4()),
        "FaceIds": [str(uuid.uuid4())],
        "Image": {"Bytes": blank},
        "SourceImage": {"Bytes": blank},
        "TargetImage": {"Bytes": blank},
        "ResourceArn": "arn:aws:rekognition:us-east-1:000000000000:collection/fuzz",
        "Tags": {"k": "v"},
        "TagKeys": ["k"],
    }
    model = botocore.session.get_session().get_service_model("rekognition")
    served = [
        n for n in model.operation_names if getattr(getattr(LocalRekognition, xform(n), None), "operation_name", None)
    ]
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    statuses: dict[int, int] = {}
    for name in served:
        shape = model.operation_model(name).input_shape
        base = {m: valid[m] for m in shape.required_members}
        for member in shape.members:
            for value in ODD_VALUES:
                body = json.dumps({**base, member: value}).encode()
                headers = signed_headers(
                    server, body, {"Content-Type": CONTENT, "X-Amz-Target": f"RekognitionService.{name}"}
                )
                connection.request("POST", "/", body, headers)
                response = connection.getresponse()
                answer = response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                assert response.status < 500, (name, member, value, answer[:300])
                if response.status >= 400:
                    assert json.loads(answer)["__type"], (name, member, value)
    connection.close()
    print(f"answers by status: {statuses}")
    assert sum(statuses.values()) > 1000


def xform(name: str) -> str:
    from botocore import xform_name

    return xform_name(name)


def big_jpeg_small() -> bytes:
    """A plain 100x100 JPEG: a valid image with no face, quick to search."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (100, 100), (90, 140, 200)).save(out, "JPEG")
    return out.getvalue()


def test_a_request_within_the_budget_is_not_throttled_by_its_own_body(tmp_path: Path) -> None:
    """CompareFaces of two photos whose analyses fit the budget, but not beside a second copy of their body."""
    import boto3
    from botocore.config import Config

    from facerec.server import BODY_COPIES, Limits, image_cost

    source, target = photos()[0], photos()[1]
    cost = image_cost({"SourceImage": {"Bytes": source}, "TargetImage": {"Bytes": target}})
    body = BODY_COPIES * 4 * (len(source) + len(target)) // 3  # base64 in JSON: a third more than the bytes
    with in_process_server(tmp_path, Limits(memory_budget=cost + body // 2, queue_wait=0.5)) as url:
        config = Config(retries={"max_attempts": 1})
        client = boto3.client(
            "rekognition", endpoint_url=url, region_name="us-east-1", config=config, **FAKE_CREDENTIALS
        )
        compared = client.compare_faces(SourceImage={"Bytes": source}, TargetImage={"Bytes": target})
    assert compared["SourceImageFace"]["Confidence"] > 90
