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
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.parsers import create_parser

from tests.conftest import ROOT, people

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
START_TIMEOUT = 60.0


@contextmanager
def running_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """`python -m facerec serve --port 0` in a process; yields its URL, read from its first line."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "facerec", "serve", "--port", "0"],
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
        yield found.group(0)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The server's environment: AWS credentials (the key pair it accepts) are FAKE_CREDENTIALS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FACEREC_"))}
    env.update({"FACEREC_DATA_DIR": str(data_dir), "FACEREC_BACKEND": "local", "AWS_REGION": "us-east-1"})
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
