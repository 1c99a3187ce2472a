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
operation needs code here.

Every request must be signed (SigV4, facerec.sigv4) with a key pair the server
accepts; the engine checks every constraint of the model before it changes
anything. The server holds up under load: a listen backlog of 128, a deadline
for each request to arrive whole (a half-sent request is dropped), a cap on
connections, and a bounded number of requests at work, with a memory budget for
the images in flight; a request that cannot get a worker or memory in time gets
ProvisionedThroughputExceededException, as AWS throttles.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any, TextIO

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from facerec import faces as facelib
from facerec import sigv4
from facerec.aws_errors import (
    AwsError,
    BodyTooLarge,
    InternalServerError,
    MethodNotAllowed,
    ProvisionedThroughputExceededException,
    RequestLineTooLong,
    SerializationException,
    ThrottlingException,
    TransferEncodingNotImplemented,
    UnknownOperationException,
    ValidationException,
    wire_document,
)
from facerec.errors import UserError
from facerec.local import constraints
from facerec.settings import Settings

log = logging.getLogger("facerec.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
TARGET_PREFIX = "RekognitionService."
CONTENT_TYPE = "application/x-amz-json-1.1"
# A 5 MB image (Rekognition's limit for bytes) is about 6.7 MB in base64; leave room for the rest.
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_HEADER_LINE = 65536
# A body is held as bytes, as text and as parsed JSON (blobs decoded) while its request runs.
BODY_COPIES = 3
# An image named by S3Object is not seen before the engine reads it: it is budgeted at this size.
S3_IMAGE_SIZE = (4000, 3000)


@dataclass(frozen=True)
class Limits:
    """How much the server takes on at once, and how long it waits."""

    read_timeout: float = 20.0  # seconds for a request (line, headers and body) to arrive whole
    backlog: int = 128  # connections the kernel queues before accept
    max_connections: int = 1024  # open connections; more are answered with a throttling error and closed
    workers: int = max(2, 2 * (os.cpu_count() or 1))  # requests at work in the engine at once
    # Bytes of request bodies and image analyses in flight (facerec.faces.working_memory): room for one
    # 40 MP photo (1.9 GB), or several camera frames and photos; a request larger than this runs alone.
    memory_budget: int = 2048 * 1024 * 1024
    queue_wait: float = 10.0  # seconds a request may wait for a worker and memory before it is throttled


class Budget:
    """Bytes in flight, shared by all requests: acquire waits up to a timeout, then refuses."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._changed = threading.Condition()

    def acquire(self, amount: int, timeout: float, held: int = 0) -> bool:
        """Take `amount` more for a request that holds `held` already (its body), or False after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            # A request larger than the whole budget runs alone rather than never: alone is when all
            # that is held is its own share.
            while self.used > held and self.used + amount > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    return False
            self.used += amount
            return True

    def release(self, amount: int) -> None:
        with self._changed:
            self.used -= amount
            self._changed.notify_all()


class RekognitionProtocol:
    """Rekognition's JSON protocol in front of an engine with boto3's method names (LocalRekognition)."""

    def __init__(self, engine: Any, limits: Limits | None = None, budget: Budget | None = None) -> None:
        self.engine = engine
        self.model = engine.service_model
        self.limits = limits or Limits()
        self.budget = budget or Budget(self.limits.memory_budget)
        self._workers = threading.BoundedSemaphore(self.limits.workers)

    def handle(self, target: str | None, body: bytes, held: int = 0, region: str | None = None) -> tuple[int, dict]:
        """The HTTP status and JSON document that answer one request, signed for `region` (default: the
        engine's own)."""
        try:
            operation = self._operation(target)
            params = self._params(body, operation)
            return 200, self._run(operation, params, held, region)
        except AwsError as exc:
            return exc.status, exc.document()
        except ClientError as exc:  # the engine's answer, as a boto3 client's error
            error = exc.response["Error"]
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            return status, wire_document(error["Code"], error.get("Message", ""))
        except ParamValidationError as exc:
            # A client that validates (boto3, the AWS CLI) never sends these; AWS answers others so.
            error = ValidationException(str(exc))
            return error.status, error.document()
        except Exception:  # a bug in the engine: the client gets a 500, the log gets the trace
            log.exception("%s failed", target)
            error = InternalServerError("the local engine failed; see the server's log")
            return error.status, error.document()

    def _run(self, operation, params: dict, held: int = 0, region: str | None = None) -> dict:
        cost = image_cost(params)
        if not self._workers.acquire(timeout=self.limits.queue_wait):
            raise ProvisionedThroughputExceededException()
        try:
            if not self.budget.acquire(cost, self.limits.queue_wait, held):
                raise ProvisionedThroughputExceededException()
            try:
                engine = self.engine.in_region(region) if region else self.engine
                result = getattr(engine, xform_name(operation.name))(**params)
            finally:
                self.budget.release(cost)
        finally:
            self._workers.release()
        return encode(result, operation.output_shape)

    def _operation(self, target: str | None):
        name = (target or "").removeprefix(TARGET_PREFIX)
        if not target or not target.startswith(TARGET_PREFIX) or name not in self.model.operation_names:
            raise UnknownOperationException(f"unknown operation: {target or '(no X-Amz-Target)'}")
        method = getattr(self.engine, xform_name(name), None)
        # Only methods the engine marks as implementing that very operation (facerec.local.base.operation).
        if getattr(method, "operation_name", None) != name:
            raise UnknownOperationException(f"the local engine does not implement {name}")
        return self.model.operation_model(name)

    def _params(self, body: bytes, operation) -> dict:
        try:
            text = body.decode("utf-8")
            document = json.loads(text, parse_constant=_no_constant, parse_float=_finite) if text.strip() else {}
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            # ValueError: not JSON, NaN or Infinity, an integer of more than 4300 digits.
            raise SerializationException(f"the body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise SerializationException("the body must be a JSON object")
        if operation.input_shape is None:
            return document
        params = decode(document, operation.input_shape)
        # AWS's front end: every constraint of the model, in its words, before the service runs.
        found = constraints.violations(params, operation.input_shape, required=True)
        if found:
            raise ValidationException(constraints.message(found))
        return params


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def image_cost(params: Any) -> int:
    """Bytes the images of a request will take while decoded, from their headers (nothing is decoded here)."""
    if not isinstance(params, dict):
        return 0
    total = 0
    for key, value in params.items():
        if key == "Bytes" and isinstance(value, (bytes, bytearray)):
            total += len(value) + facelib.working_memory(*_size(value))
        elif key == "S3Object" and isinstance(value, dict):
            total += facelib.working_memory(*S3_IMAGE_SIZE)
        elif isinstance(value, dict):
            total += image_cost(value)
    return total


def _size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                return image.size
    except Exception:  # not an image: the engine says so, at no decoding cost
        return 0, 0


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
            raise SerializationException("a blob member is not valid base64") from None
    if kind == "timestamp" and isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise SerializationException(f"{value} is not a timestamp") from None
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


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, str):
        return _epoch(datetime.fromisoformat(value))
    return float(value)


class Handler(BaseHTTPRequestHandler):
    """One connection: requests read against a deadline, checked for a signature, answered in AWS's JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # The headers and the body go out in two writes: with Nagle's algorithm the body then waits for the
    # client's delayed ACK of the headers, 40 ms on Linux, which made every answer take at least that.
    disable_nagle_algorithm = True
    server_version = "facerec-rekognition"
    server: RekognitionServer

    def handle_one_request(self) -> None:  # the name socketserver calls, once per request on the connection
        self._held = 0  # bytes of the memory budget this request's body holds
        try:
            self._handle_one_request()
        finally:
            if self._held:
                self.server.protocol.budget.release(self._held)

    def _hold(self, body_bytes: int) -> None:
        """Take a body's share of the memory budget before reading it (raw, decoded and parsed copies)."""
        amount = BODY_COPIES * body_bytes
        if not self.server.protocol.budget.acquire(amount, self.server.limits.queue_wait):
            raise ProvisionedThroughputExceededException()
        self._held += amount

    def _handle_one_request(self) -> None:
        self.close_connection = True  # until parse_request reads what the client wants
        self.server.watch(self)
        try:
            request = self._receive()
        except AwsError as exc:  # refused before it reaches the engine
            self.server.unwatch(self)
            self.close_connection = True  # the rest of the request, if any, is not read
            self._send(exc.status, exc.document())
            return
        except (OSError, ValueError):  # timed out, reset, or shut down by the deadline
            self.server.unwatch(self)
            return
        self.server.unwatch(self)
        if request is None:
            return
        body, claim = request
        self._answer(body, claim)

    def _receive(self) -> tuple[bytes, sigv4.Claim] | None:
        """The body and signature claim of the next request, or None when the client closed the connection."""
        self.raw_requestline = self.rfile.readline(MAX_HEADER_LINE + 1)
        if not self.raw_requestline:
            return None
        if len(self.raw_requestline) > MAX_HEADER_LINE:
            raise RequestLineTooLong()
        if not self.parse_request():  # has answered through send_error
            raise OSError("unparsable request")
        if self.command not in ("POST", "GET", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"):
            raise MethodNotAllowed(f"{self.command[:20]} is not an HTTP method served here")
        headers = {k.lower(): v for k, v in self.headers.items()}
        claim = self.server.verifier.claim(headers)
        body = self._body(headers)
        self.server.verifier.verify(claim, self.command, self.path, headers, body)
        return body, claim

    def _body(self, headers: dict[str, str]) -> bytes:
        encoding = headers.get("transfer-encoding", "").strip().lower()
        if encoding and encoding != "chunked":
            raise TransferEncodingNotImplemented(f"Transfer-Encoding {encoding[:40]} is not supported")
        if encoding == "chunked":
            return self._chunked()
        declared = headers.get("content-length")
        if declared is None:
            return b""  # HTTP/1.1: no length and no chunks, no body
        if not declared.strip().isdigit():
            raise SerializationException("Content-Length is not a number")
        length = int(declared)
        if length > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
        self._hold(length)
        body = self.rfile.read(length)
        if len(body) != length:
            raise OSError("the client closed the connection mid-body")
        return body

    def _chunked(self) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(MAX_HEADER_LINE)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise SerializationException("a chunk size is not hexadecimal") from None
            if size < 0 or total + size > MAX_BODY_BYTES:
                raise BodyTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
            if size == 0:
                while self.rfile.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            self._hold(size)
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise OSError("the client closed the connection mid-chunk")
            self.rfile.readline(MAX_HEADER_LINE)
            parts.append(chunk)
            total += size

    def _answer(self, body: bytes, claim: sigv4.Claim) -> None:
        if self.command != "POST":
            error = UnknownOperationException("POST a Rekognition request with X-Amz-Target")
            self._send(error.status, error.document())
            return
        target = self.headers.get("X-Amz-Target")
        status, document = self.server.protocol.handle(target, body, self._held, claim.region)
        self._send(status, document)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (bad request line, too many headers...) in AWS's form, with headers
        # even for what looks like HTTP/0.9 (which would get a bare body).
        self.close_connection = True
        self.request_version = self.protocol_version
        self._send(code, SerializationException(message or "").document())

    def _send(self, status: int, document: dict) -> None:
        payload = json.dumps(document, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status >= 400:
                self.send_header("x-amzn-ErrorType", document["__type"])
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", "") != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        log.debug("%s - %s", self.address_string(), format % args)


class RekognitionServer(ThreadingHTTPServer):
    """A thread per connection, up to a cap; a watchdog drops requests that do not arrive in time."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], protocol: RekognitionProtocol, verifier: sigv4.Verifier, limits: Limits
    ) -> None:
        self.request_queue_size = limits.backlog
        self.protocol = protocol
        self.verifier = verifier
        self.limits = limits
        self._connections = threading.BoundedSemaphore(limits.max_connections)
        self._reading: dict[Handler, float] = {}
        self._reading_lock = threading.Lock()
        self._stopped = threading.Event()
        super().__init__(address, Handler)
        threading.Thread(target=self._drop_late_requests, name="facerec-deadlines", daemon=True).start()

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            _refuse_connection(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        try:
            request.settimeout(self.limits.read_timeout)
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)

    def watch(self, handler: Handler) -> None:
        with self._reading_lock:
            self._reading[handler] = time.monotonic() + self.limits.read_timeout

    def unwatch(self, handler: Handler) -> None:
        with self._reading_lock:
            self._reading.pop(handler, None)

    def _drop_late_requests(self) -> None:
        # The socket timeout bounds each read; this bounds the whole request (a client sending a byte
        # now and then would otherwise hold its thread forever).
        period = min(1.0, self.limits.read_timeout / 4)
        while not self._stopped.wait(period):
            now = time.monotonic()
            with self._reading_lock:
                late = [h for h, deadline in self._reading.items() if deadline < now]
                for handler in late:
                    self._reading.pop(handler, None)
            for handler in late:
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def server_close(self) -> None:
        self._stopped.set()
        super().server_close()


def _refuse_connection(request: socket.socket) -> None:
    error = ThrottlingException("Too many connections")
    payload = json.dumps(error.document()).encode()
    head = (
        f"HTTP/1.1 {error.status} Bad Request\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(payload)}\r\nx-amzn-ErrorType: {error.code}\r\nConnection: close\r\n\r\n"
    )
    try:
        request.settimeout(1.0)
        request.sendall(head.encode() + payload)
    except OSError:
        pass


def make_server(
    engine: Any,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    pairs: list[sigv4.KeyPair] | None = None,
    limits: Limits | None = None,
) -> RekognitionServer:
    """An HTTP server for `engine`, bound but not yet serving (port 0: any free port)."""
    limits = limits or Limits()
    protocol = RekognitionProtocol(engine, limits)
    return RekognitionServer((host, port), protocol, sigv4.Verifier(pairs or []), limits)


def engine_for(settings: Settings) -> Any:
    """The engine on the settings' data folder, reading S3Object images from the configured back end's S3."""
    from facerec.clients import client, local_backend
    from facerec.faces import LazyModels
    from facerec.local.rekognition import LocalRekognition

    if settings.backend == "local":
        return local_backend(settings).rekognition  # the engine the app uses, on its data folder and local S3
    # On the AWS back end images named by S3Object are read from that S3 (AWS_ENDPOINT_URL_S3 and
    # friends apply), as Rekognition reads them from the caller's bucket. Only signed requests get here.
    models = LazyModels(settings.models)
    return LocalRekognition(settings.data_dir, models, s3=client("s3", settings), region=settings.region)


def accepted_pairs(settings: Settings) -> tuple[list[sigv4.KeyPair], bool]:
    """The environment's AWS key pair and those of the server's credentials file (made if there are none),
    and whether it was made now."""
    path = settings.server_credentials_file
    pairs = [p for p in [sigv4.environment_pair()] if p is not None] + sigv4.file_pairs(path)
    if pairs:
        return pairs, False
    return [sigv4.make_pair_file(path)], True


def how_to_sign(settings: Settings, url: str, made: bool) -> str:
    """What to tell the user about credentials once the server listens."""
    path = settings.server_credentials_file
    lead = "made a key pair for this server" if made else "key pairs for this server are"
    return (
        f"{lead} in {path} (owner-only); sign requests with it, e.g.\n"
        f"  AWS_SHARED_CREDENTIALS_FILE={path} AWS_PROFILE={sigv4.PROFILE} "
        f"aws rekognition list-collections --endpoint-url {url} --region {settings.region}"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class NotLoopback(UserError):
    """A non-loopback address was asked for without --allow-remote: the user's to fix, not AWS's error."""


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    settings: Settings | None = None,
    out: TextIO | None = None,
    allow_remote: bool = False,
    limits: Limits | None = None,
) -> None:
    """Serve the engine until interrupted; the first line on `out` gives the URL to use as endpoint."""
    from facerec.settings import load

    settings = settings or load()
    out = out or sys.stdout
    if not is_loopback(host):
        if not allow_remote:
            raise NotLoopback(
                f"{host} is reachable from other machines: pass --allow-remote to serve faces there "
                "(requests must still be signed)"
            )
        print(
            f"warning: serving on {host}, reachable from other machines; requests are signed but travel "
            "in clear HTTP, so use a trusted network",
            file=sys.stderr,
        )
    pairs, made = accepted_pairs(settings)
    server = make_server(engine_for(settings), host, port, pairs, limits)
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host}:{bound_port}"
    # Printed once bound, so that whoever started the server (the tests) can read the port.
    print(f"serving Rekognition at {url} (data in {settings.data_dir})", file=out)
    if made or settings.server_credentials_file.is_file():
        print(how_to_sign(settings, url, made), file=out)
    else:
        print("requests must be signed with this environment's AWS credentials", file=out)
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
    return threading.current_thread() is threading.main_thread()
