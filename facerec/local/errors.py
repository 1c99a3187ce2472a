"""Errors as boto3 raises them: ClientError subclasses named by the service's codes."""

from __future__ import annotations

import uuid

from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError

_factory = ClientExceptionsFactory()

# HTTP status codes AWS uses for the codes the local back end raises.
STATUS = {
    "ResourceNotFoundException": 400,
    "ResourceAlreadyExistsException": 400,
    "InvalidParameterException": 400,
    "InvalidImageFormatException": 400,
    "ImageTooLargeException": 400,
    "InvalidS3ObjectException": 400,
    "InvalidPaginationTokenException": 400,
    "ConflictException": 400,
    "ServiceQuotaExceededException": 400,
    "IdempotentParameterMismatchException": 400,
    "ProvisionedThroughputExceededException": 400,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "404": 404,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "ConditionalCheckFailedException": 400,
    "ValidationException": 400,
    "InternalServerError": 500,
}


def exceptions_for(service_model):
    """The `client.exceptions` object a boto3 client of this service has."""
    return _factory.create_client_exceptions(service_model)


def client_error(exceptions, code: str, message: str, operation: str) -> ClientError:
    """A ClientError shaped as botocore builds it from an AWS error response."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": str(uuid.uuid4()),
            "HTTPStatusCode": STATUS.get(code, 400),
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        },
    }
    cls = exceptions.from_code(code)
    return cls(response, operation)
