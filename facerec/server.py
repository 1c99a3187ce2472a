"""The local Rekognition engine over HTTP, in Rekognition's own wire protocol.

`python -m facerec serve` answers what Amazon Rekognition answers, so that any
Rekognition client (boto3 or the AWS CLI with an endpoint URL, an SDK in another
language) can use the local engine: the AWS back end's tests point the AWS CLI
and boto3 here, as moto has no Rekognition.

The protocol is AWS JSON 1.1: a POST whose `X-Amz-Target` header is
`RekognitionService.<Operation>`, a JSON body of the operation's input with
blobs in base64; the answer is the output as JSON, timestamps in epoch seconds,
or an error `{"__type": code, "message": ...}` with its HTTP status. Requests
are mapped to the engine's methods through botocore's model of the service
(operation name -> snake_case method), and both directions are converted by the
model's shapes, so every operation the engine implements is served and no
operation needs code here. Signatures are not checked: the server binds to the
loopback interface by default, for this machine's programs only.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import signal
import sys
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from facerec.settings import Settings

log = logging.getLogger("facerec.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
TARGET_PREFIX = "RekognitionService."
CONTENT_TYPE = "application/x-amz-json-1.1"
# A 5 MB image (Rekognition's limit for bytes) is about 6.7 MB in base64; leave room for the rest.
MAX_BODY_BYTES = 16 * 1024 * 1024


class ProtocolError(Exception):
    """A request the protocol refuses, answered as an AWS JSON error."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class RekognitionProtocol:
    """Rekognition's JSON protocol in front of an engine with boto3's method names (LocalRekognition)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.model = engine.service_model

    def handle(self, target: str | None, body: bytes) -> tuple[int, dict]:
        """The HTTP status and JSON document that answer one request."""
        try:
            operation = self._operation(target)
            params = self._params(body, operation)
            result = getattr(self.engine, xform_name(operation.name))(**params)
            return 200, encode(result, operation.output_shape)
        except ProtocolError as exc:
            return exc.status, error_document(exc.code, exc.message)
        except ClientError as exc:
            error = exc.response["Error"]
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            return status, error_document(error["Code"], error.get("Message", ""))
        except ParamValidationError as exc:
            # A client that validates (boto3, the AWS CLI) never sends these; AWS answers others so.
            return 400, error_document("ValidationException", str(exc))
        except Exception:  # a bug in the engine: the client gets a 500, the log gets the trace
            log.exception("%s failed", target)
            return 500, error_document("InternalServerError", "the local engine failed; see the server's log")

    def _operation(self, target: str | None):
        name = (target or "").removeprefix(TARGET_PREFIX)
        if not target or not target.startswith(TARGET_PREFIX) or name not in self.model.operation_names:
            raise ProtocolError("UnknownOperationException", f"unknown operation: {target or '(no X-Amz-Target)'}")
        method = getattr(self.engine, xform_name(name), None)
        # Only methods the engine marks as implementing that very operation (facerec.local.base.operation).
        if getattr(method, "operation_name", None) != name:
            raise ProtocolError("UnknownOperationException", f"the local engine does not implement {name}")
        return self.model.operation_model(name)

    def _params(self, body: bytes, operation) -> dict:
        try:
            document = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError("SerializationException", f"the body is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ProtocolError("SerializationException", "the body must be a JSON object")
        if operation.input_shape is None:
            return document
        return decode(document, operation.input_shape)


def decode(value: Any, shape) -> Any:
    """A JSON input value as boto3 would pass it: blobs as bytes, timestamps as datetimes."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        # Members the model does not know are kept: the engine's validator then refuses them by name.
        return {k: decode(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [decode(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: decode(v, shape.value) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("SerializationException", "a blob member is not valid base64") from None
    if kind == "timestamp" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return value


def encode(value: Any, shape) -> Any:
    """An output value as the JSON protocol carries it, members the model does not name left out."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        return {k: encode(v, shape.members[k]) for k, v in value.items() if k in shape.members and v is not None}
    if kind == "list":
        return [encode(v, shape.member) for v in value]
    if kind == "map":
        return {k: encode(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return _epoch(value)
    if kind == "blob":
        data = value.read() if hasattr(value, "read") else bytes(value)
        return base64.b64encode(data).decode("ascii")
    if kind in ("float", "double"):
        return float(value)  # the engine's numbers may be numpy scalars, which json cannot write
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


def error_document(code: str, message: str) -> dict:
    return {"__type": code, "message": message}


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, str):
        return _epoch(datetime.fromisoformat(value))
    return float(value)


class Handler(BaseHTTPRequestHandler):
    """One request: read the body, let the protocol answer, write the JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server_version = "facerec-rekognition"
    protocol: RekognitionProtocol  # set on the subclass make_server builds

    def do_POST(self) -> None:  # the name http.server calls
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, error_document("ValidationException", f"the body must be at most {MAX_BODY_BYTES} bytes"))
            return
        body = self.rfile.read(length)
        status, document = self.protocol.handle(self.headers.get("X-Amz-Target"), body)
        self._send(status, document)

    def do_GET(self) -> None:
        self._send(400, error_document("UnknownOperationException", "POST a Rekognition request with X-Amz-Target"))

    def _send(self, status: int, document: dict) -> None:
        payload = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if status >= 400:
            self.send_header("x-amzn-ErrorType", document["__type"])
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        log.debug("%s - %s", self.address_string(), format % args)


def make_server(engine: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """An HTTP server for `engine`, bound but not yet serving (port 0: any free port)."""
    handler = type("RekognitionHandler", (Handler,), {"protocol": RekognitionProtocol(engine)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def engine_for(settings: Settings) -> Any:
    """The engine on the settings' data folder, reading S3Object images from the configured back end's S3."""
    from facerec.clients import client, local_client
    from facerec.local.rekognition import LocalRekognition

    if settings.backend == "local":
        return local_client("rekognition", settings)  # the very engine the app uses, its local S3 included
    # On the AWS back end images named by S3Object are read from that S3 (AWS_ENDPOINT_URL_S3 and
    # friends apply), as Rekognition reads them from the caller's bucket.
    return LocalRekognition(settings.data_dir, s3=client("s3", settings), region=settings.region)


def serve(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, settings: Settings | None = None, out: TextIO | None = None
) -> None:
    """Serve the engine until interrupted; the first line on `out` gives the URL to use as endpoint."""
    from facerec.settings import load

    settings = settings or load()
    out = out or sys.stdout
    server = make_server(engine_for(settings), host, port)
    bound_host, bound_port = server.server_address[:2]
    # Printed once bound, so that whoever started the server (the tests) can read the port.
    print(f"serving Rekognition at http://{bound_host}:{bound_port} (data in {settings.data_dir})", file=out)
    out.flush()
    # SIGTERM ends the server as Ctrl-C does, closing the socket on the way out.
    previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
