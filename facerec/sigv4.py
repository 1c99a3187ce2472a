"""Who may call the server: AWS Signature Version 4 checked on every request.

The server knows a few key pairs (the AWS credentials of the environment it runs
in, and those of its own credentials file, made at first start when there are
none). A request must carry an `Authorization: AWS4-HMAC-SHA256 ...` header
signed with one of them, for this region and service, within five minutes of
now. The expected signature is computed by botocore's own signer (SigV4Auth) on
a request rebuilt from the one received with the headers the client signed, so
that there is no second implementation of SigV4 here to get wrong.

Errors are AWS's (facerec.aws_errors), all HTTP 403: MissingAuthenticationTokenException (no
signature), IncompleteSignatureException (a malformed one),
UnrecognizedClientException (a key we do not know), InvalidSignatureException
(a wrong signature, scope or date).
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.credentials import ReadOnlyCredentials as KeyPair  # (access_key, secret_key, token)

from facerec.aws_errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from facerec.paths import write_private

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rekognition"
MAX_SKEW = timedelta(minutes=5)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
PROFILE = "facerec-local"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*"
)


@dataclass(frozen=True)
class Claim:
    """What the Authorization header says, checked against everything but the body."""

    pair: KeyPair
    signed_headers: list[str]
    signature: str
    amz_date: str
    region: str


class Verifier:
    """Checks requests against the key pairs the server accepts."""

    def __init__(self, pairs: list[KeyPair]) -> None:
        self.pairs = {p.access_key: p for p in pairs}

    def claim(self, headers: dict[str, str], now: datetime | None = None) -> Claim:
        """Check the header's form, the key, the scope and the date: everything known before the body is read."""
        header = headers.get("authorization")
        if not header:
            raise MissingAuthenticationTokenException()
        found = _AUTHORIZATION.fullmatch(header.strip())
        if not found:
            if not header.startswith(ALGORITHM):
                raise IncompleteSignatureException(f"Unsupported authorization type: use {ALGORITHM}")
            raise IncompleteSignatureException(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
            )
        scope = found["credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise IncompleteSignatureException(f"Credential is malformed: {found['credential']}")
        access_key, day, region, service, _ = scope
        pair = self.pairs.get(access_key)
        if pair is None or (pair.token or None) != (headers.get("x-amz-security-token") or None):
            raise UnrecognizedClientException()
        signed = found["signed"].lower().split(";")
        if "host" not in signed:
            raise InvalidSignatureException("'Host' must be a signed header.")
        amz_date = headers.get("x-amz-date", "")
        if "x-amz-date" not in signed or not amz_date:
            raise IncompleteSignatureException("Authorization header requires a signed 'X-Amz-Date'.")
        try:
            moment = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=timezone.utc)
        except ValueError:
            raise IncompleteSignatureException(f"X-Amz-Date is not a date: {amz_date}") from None
        _check_date(moment, now or datetime.now(timezone.utc))
        if day != amz_date[:8]:
            raise InvalidSignatureException(f"Credential should be scoped to a valid date: {amz_date[:8]}")
        # One local server stands for every region (as moto does): any region name signs, the one the
        # client signed with is the one the signature is checked for, and whose collections it sees.
        if not _REGION.fullmatch(region):
            raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{region}'.")
        if service != SERVICE:
            raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'.")
        missing = [h for h in signed if h not in headers]
        if missing:
            raise InvalidSignatureException(f"Signed headers are missing: {', '.join(missing)}")
        return Claim(pair, signed, found["signature"].lower(), amz_date, region)

    def verify(self, claim: Claim, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        """Compare the signature with botocore's for the same request; InvalidSignatureException if they differ."""
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise InvalidSignatureException("The provided 'x-amz-content-sha256' does not match the body.")
        request = AWSRequest(
            method=method,
            url=f"http://{headers['host']}{path}",
            data=body,
            headers={name: headers[name] for name in claim.signed_headers},
        )
        request.context["timestamp"] = claim.amz_date
        signer = SigV4Auth(
            Credentials(claim.pair.access_key, claim.pair.secret_key, claim.pair.token), SERVICE, claim.region
        )
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, claim.signature):
            raise InvalidSignatureException(BAD_SIGNATURE)


def _check_date(moment: datetime, now: datetime) -> None:
    stamp, now_stamp = moment.strftime(AMZ_DATE), now.strftime(AMZ_DATE)
    if moment < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(AMZ_DATE)
        raise InvalidSignatureException(
            f"Signature expired: {stamp} is now earlier than {earliest} ({now_stamp} - 5 min.)",
        )
    if moment > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(AMZ_DATE)
        raise InvalidSignatureException(
            f"Signature not yet current: {stamp} is still later than {latest} ({now_stamp} + 5 min.)",
        )


# The key pairs a server accepts


def environment_pair() -> KeyPair | None:
    """The AWS credentials of the environment (variables, shared files, profile), if any.

    Instance and container roles are not asked for: they need a network the server may not have, and a
    server on a laptop should not take a cloud role's keys as its own.
    """
    import botocore.session

    session = botocore.session.get_session()
    resolver = session.get_component("credential_provider")
    for name in ("iam-role", "container-role"):
        try:
            resolver.remove(name)
        except Exception:  # noqa: BLE001 - botocore versions differ in the providers they have
            pass
    credentials = session.get_credentials()
    if credentials is None:
        return None
    return credentials.get_frozen_credentials()


def file_pairs(path: Path) -> list[KeyPair]:
    """The key pairs of a credentials file (the AWS shared-credentials format, every profile)."""
    if not path.is_file():
        return []
    parser = configparser.ConfigParser()
    parser.read(path)
    return [
        KeyPair(section["aws_access_key_id"], section["aws_secret_access_key"], section.get("aws_session_token"))
        for section in parser.values()
        if "aws_access_key_id" in section and "aws_secret_access_key" in section
    ]


def make_pair_file(path: Path) -> KeyPair:
    """A new random key pair, written owner-only (0600) as profile `facerec-local` of a credentials file."""
    pair = KeyPair(
        "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16)),
        secrets.token_urlsafe(30)[:40],
        None,
    )
    text = f"[{PROFILE}]\naws_access_key_id = {pair.access_key}\naws_secret_access_key = {pair.secret_key}\n"
    write_private(path, text.encode("utf-8"))
    return pair
