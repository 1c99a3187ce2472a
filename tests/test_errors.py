"""The one place that words failures for people."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError

from facerec.errors import InvalidName, describe
from facerec.settings import SettingsError

# What AWS says of a 23 MB image: text for its engineers, not for the app's users.
AWS_INTERNAL = "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=23456789 cap=23456789]'"


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": AWS_INTERNAL}}, "Op")


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (NoCredentialsError(), "No AWS credentials"),
        (EndpointConnectionError(endpoint_url="https://rekognition.eu-west-1.amazonaws.com"), "Cannot reach AWS"),
        (client_error("ResourceNotFoundException"), "scripts/provision.sh"),
        (client_error("NoSuchBucket"), "bucket does not exist"),
        (client_error("AccessDeniedException"), "lack a permission"),
        (client_error("ThrottlingException"), "try again"),
        (client_error("SomethingNew"), "AWS could not do this (SomethingNew)"),
        (client_error("ValidationException"), "(ValidationException)"),
        (ParamValidationError(report=AWS_INTERNAL), "The AWS client failed"),
        (InvalidName("The name is empty."), "The name is empty."),
        (SettingsError("FACEREC_CAMERA='-1' is not valid"), "FACEREC_CAMERA"),
        (FileNotFoundError(2, "No such file or directory", "/tmp/x.jpg"), "/tmp/x.jpg"),
    ],
)
def test_every_failure_gets_one_plain_line(error: BaseException, words: str) -> None:
    message = describe(error)
    assert words in message
    assert "\n" not in message and "Traceback" not in message
    assert "java" not in message and "validation error" not in message
