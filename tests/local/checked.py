"""A client wrapper that holds every answer to botocore's model of the service.

Each response must validate against the operation's output shape (as
botocore.stub.Stubber validates the responses it is given) and each error code
must be one the model declares for that operation.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

# Errors every AWS service may answer without declaring them per operation (AWS's "Common Errors").
COMMON_ERRORS = {"ValidationException"}


class CheckedClient:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.model = client.service_model
        self.seen_operations: set[str] = set()
        self.seen_errors: set[tuple[str, str]] = set()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        operation_name = getattr(target, "operation_name", None)
        if operation_name is None:
            return target
        operation = self.model.operation_model(operation_name)

        def call(**params: Any) -> dict:
            try:
                response = target(**params)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                declared = {shape.name for shape in operation.error_shapes} | COMMON_ERRORS
                assert code in declared, f"{operation_name} raised {code}, not among {sorted(declared)}"
                self.seen_errors.add((operation_name, code))
                raise
            body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
            validate_parameters(body, operation.output_shape)
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
            self.seen_operations.add(operation_name)
            return response

        return call
