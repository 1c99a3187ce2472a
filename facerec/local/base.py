"""What every local client shares with a boto3 client: validation, errors, paginators."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import cached_property, wraps
from typing import Any

import botocore.session
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ParamValidationError
from botocore.paginate import Paginator
from botocore.validate import ParamValidator

from facerec.aws_errors import AwsError, InvalidParameterException, ValidationException
from facerec.local import constraints

_session = botocore.session.get_session()
_exceptions = ClientExceptionsFactory()


def operation(name: str) -> Callable:
    """Mark a method as the local implementation of the AWS operation `name`.

    The wrapper validates parameters as botocore does before sending (types,
    required members, lengths, ranges), then checks the string patterns the
    service checks, runs the operation and returns the boto3 response shape.
    """

    def decorate(method: Callable) -> Callable:
        @wraps(method)
        def call(self: LocalClient, **params: Any) -> dict:
            model = self.service_model.operation_model(name)
            report = ParamValidator().validate(params, model.input_shape)
            if report.has_errors():
                raise ParamValidationError(report=report.generate_report())
            try:
                self._check_constraints(params, model.input_shape)
                result = method(self, **params)
            except AwsError as exc:  # an operation raises AWS's error; boto3's callers catch a ClientError
                raise exc.client_error(self.exceptions, name) from None
            result["ResponseMetadata"] = {
                "RequestId": str(uuid.uuid4()),
                "HTTPStatusCode": 200,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            }
            return result

        call.operation_name = name
        return call

    return decorate


class LocalClient:
    """Base of the local clients: the parts of a boto3 client that callers rely on."""

    service_name: str = ""
    pattern_error: type[AwsError] = InvalidParameterException
    # True: every constraint of the model (enums, ranges, lengths, patterns) is checked, as AWS's
    # front end does, and answered with ValidationException; False: only string patterns.
    checks_all_constraints = False

    @cached_property
    def service_model(self):
        return _session.get_service_model(self.service_name)

    @cached_property
    def exceptions(self):
        """The `client.exceptions` object a boto3 client of this service has."""
        return _exceptions.create_client_exceptions(self.service_model)

    def can_paginate(self, operation_name: str) -> bool:
        return self._paginator_config(operation_name) is not None

    def get_paginator(self, operation_name: str) -> Paginator:
        config = self._paginator_config(operation_name)
        if config is None:
            raise ValueError(f"operation cannot be paginated: {operation_name}")
        method = getattr(self, operation_name)
        model = self.service_model.operation_model(method.operation_name)
        return Paginator(method, config, model)

    def _paginator_config(self, operation_name: str) -> dict | None:
        method = getattr(self, operation_name, None)
        name = getattr(method, "operation_name", None)
        if name is None:
            return None
        try:
            return _session.get_paginator_model(self.service_name).get_paginator(name)
        except ValueError:
            return None

    def _check_constraints(self, params: dict, shape) -> None:
        if not self.checks_all_constraints:
            self._check_patterns(params, shape)
            return
        found = constraints.violations(params, shape)
        if found:
            raise ValidationException(constraints.message(found))

    def _check_patterns(self, params: dict, shape) -> None:
        for key, value in params.items():
            member = shape.members.get(key)
            if member is None:
                continue
            if member.type_name == "structure" and isinstance(value, dict):
                self._check_patterns(value, member)
            pattern = member.metadata.get("pattern")
            if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
                raise self.pattern_error(
                    f"1 validation error detected: Value '{value}' at '{_lower_first(key)}' failed to "
                    f"satisfy constraint: Member must satisfy regular expression pattern: {pattern}",
                )


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]
