"""AWS's errors as the local back end and the Rekognition server answer them: one class per error.

Each class carries its code and HTTP status, as AWS names them (the classes are named by the codes, so
that a code found in a log leads here); a raise gives only the message, or none where AWS has one
message. The local clients turn an error into the ClientError boto3 raises (`client_error`, at the
boto3 boundary, facerec.local.base); the server sends it as Rekognition's JSON (`document`).

The app's own messages for these codes, for a person to read, are in facerec.errors.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from botocore.exceptions import ClientError


class AwsError(Exception):
    """An error AWS answers: a code, an HTTP status and a message."""

    code: ClassVar[str]  # each error's own: AwsError itself is never raised
    status: ClassVar[int] = 400  # AWS answers a client's mistake with 400 unless the class says otherwise
    default_message: ClassVar[str] = ""  # for errors AWS words one way only

    def __init__(self, message: str = "") -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def document(self) -> dict:
        """The JSON body of the answer in AWS's JSON protocols (1.0 and 1.1)."""
        return wire_document(self.code, self.message)

    def client_error(self, exceptions: Any, operation: str) -> ClientError:
        """The ClientError botocore would build from this answer to `operation`: of the class that
        `exceptions` (a client's `client.exceptions`) has for the code."""
        response = {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {
                "RequestId": str(uuid.uuid4()),
                "HTTPStatusCode": self.status,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        }
        return exceptions.from_code(self.code)(response, operation)


def wire_document(code: str, message: str) -> dict:
    """An error as AWS's JSON protocols carry it."""
    return {"__type": code, "message": message}


# Common to the services


class ValidationException(AwsError):
    code = "ValidationException"


class InternalServerError(AwsError):
    code = "InternalServerError"
    status = 500


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class ProvisionedThroughputExceededException(AwsError):
    code = "ProvisionedThroughputExceededException"
    default_message = "Provisioned rate exceeded."


class ThrottlingException(AwsError):
    code = "ThrottlingException"


# Rekognition


class InvalidParameterException(AwsError):
    code = "InvalidParameterException"


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


class ConflictException(AwsError):
    code = "ConflictException"


class ServiceQuotaExceededException(AwsError):
    code = "ServiceQuotaExceededException"


class IdempotentParameterMismatchException(AwsError):
    code = "IdempotentParameterMismatchException"
    default_message = "ClientRequestToken was already used with different parameters."


class InvalidPaginationTokenException(AwsError):
    code = "InvalidPaginationTokenException"
    default_message = "Invalid pagination token."


class ImageTooLargeException(AwsError):
    code = "ImageTooLargeException"


class InvalidImageFormatException(AwsError):
    code = "InvalidImageFormatException"
    default_message = "Request has invalid image format"


class InvalidS3ObjectException(AwsError):
    code = "InvalidS3ObjectException"
    default_message = "Unable to get object metadata from S3. Check object key, region and/or access permissions."


# DynamoDB


class ResourceInUseException(AwsError):
    code = "ResourceInUseException"


class ConditionalCheckFailedException(AwsError):
    code = "ConditionalCheckFailedException"
    default_message = "The conditional request failed"


# S3


class NoSuchBucket(AwsError):
    code = "NoSuchBucket"
    status = 404
    default_message = "The specified bucket does not exist"


class NoSuchKey(AwsError):
    code = "NoSuchKey"
    status = 404
    default_message = "The specified key does not exist."


class NotFound(AwsError):
    """What S3 answers to HEAD of a missing bucket or key: the status alone, as a HEAD has no body."""

    code = "404"
    status = 404
    default_message = "Not Found"


class InvalidBucketName(AwsError):
    code = "InvalidBucketName"
    default_message = "The specified bucket is not valid."


class InvalidArgument(AwsError):
    code = "InvalidArgument"


class BucketAlreadyOwnedByYou(AwsError):
    code = "BucketAlreadyOwnedByYou"
    status = 409
    default_message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketNotEmpty(AwsError):
    code = "BucketNotEmpty"
    status = 409
    default_message = "The bucket you tried to delete is not empty"


# The JSON protocol (facerec.server)


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"


class MethodNotAllowed(UnknownOperationException):
    status = 405


class SerializationException(AwsError):
    code = "SerializationException"
    default_message = "the request is malformed"


class RequestLineTooLong(SerializationException):
    status = 414
    default_message = "the request line is too long"


class TransferEncodingNotImplemented(SerializationException):
    status = 501


class BodyTooLarge(ValidationException):
    status = 413


# Signature Version 4 (facerec.sigv4): AWS answers every refusal of a signature with 403.


class AuthError(AwsError):
    """A request whose signature the server refuses."""

    status = 403


class MissingAuthenticationTokenException(AuthError):
    code = "MissingAuthenticationTokenException"
    default_message = "Missing Authentication Token"


class IncompleteSignatureException(AuthError):
    code = "IncompleteSignatureException"


class UnrecognizedClientException(AuthError):
    code = "UnrecognizedClientException"
    default_message = "The security token included in the request is invalid."


class InvalidSignatureException(AuthError):
    code = "InvalidSignatureException"
