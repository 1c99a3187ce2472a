"""The app's own exceptions, and the one place that turns any failure into words for a person."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from facerec.settings import SettingsError


class UserError(Exception):
    """Something the user can fix; its message is shown as is."""


class InvalidName(UserError):
    pass


class InvalidImage(UserError):
    pass


class NotEnrolled(UserError):
    pass


class NameTaken(UserError):
    """A rename to a name someone else is enrolled under, without saying to merge the two."""


class StillIndexing(UserError):
    """The person has a photo whose indexing has not ended: what it gives would not follow the change."""


class NoCamera(UserError):
    pass


class DuplicateEnrolment(UserError):
    """Enrolling would repeat a face, a photo or a name already enrolled; the user has to say so."""


def counted(count: int, noun: str) -> str:
    """ "1 face", "2 faces": the number with its noun (regular plurals only)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def duplicate_message(kind: str, enrolled_name: str, similarity: float | None = None) -> str:
    """Why an enrolment repeats what is enrolled (see FaceService.find_duplicates), in one sentence."""
    if kind == "photo":
        return f"This photo is already enrolled, as {enrolled_name}."
    if kind == "face":
        return f"This face looks like {enrolled_name} ({similarity:.0f}% similar), who is already enrolled."
    return f"{enrolled_name} is already enrolled: the names differ only in capitals or spaces."


def duplicate_risk(kind: str, same_name: bool) -> str:
    """What enrolling it anyway does, for a duplicate of this kind (see duplicate_message)."""
    if kind == "name":
        return "Two spellings of one name make two people in People."
    if kind == "photo" and same_name:
        return "Enrolling it again adds only a second copy of the same face."
    return "A face enrolled under two names makes Check face answer either."


# What a person should read for the AWS error codes the app can meet.
CLIENT_ERROR_MESSAGES = {
    "ResourceNotFoundException": "An AWS resource is missing (collection or table): run scripts/provision.sh.",
    "NoSuchBucket": "The S3 bucket does not exist: run scripts/provision.sh.",
    "AccessDeniedException": "AWS refused the request: the credentials lack a permission (see the README).",
    "AccessDenied": "AWS refused the request: the credentials lack a permission (see the README).",
    "UnrecognizedClientException": "AWS does not recognise these credentials.",
    "InvalidAccessKeyId": "AWS does not recognise these credentials.",
    "ExpiredTokenException": "The AWS session has expired: sign in again.",
    "ThrottlingException": "AWS is busy: try again in a moment.",
    "ProvisionedThroughputExceededException": "AWS is busy: try again in a moment.",
    "InvalidImageFormatException": "The image is not a JPEG or PNG photo.",
    "ImageTooLargeException": "The image is too large (at most 5 MB, or 15 MB in S3).",
    "InvalidParameterException": "No usable face in the image.",
}


def describe(error: BaseException) -> str:
    """One line for a person, for any error the app lets reach them."""
    if isinstance(error, (UserError, SettingsError)):
        return str(error)
    if isinstance(error, NoCredentialsError):
        return "No AWS credentials: run `aws configure`, or use the local back end (FACEREC_BACKEND=local)."
    if isinstance(error, EndpointConnectionError):
        return "Cannot reach AWS: check the network connection."
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        # AWS's own Message is written for its engineers (Java buffer dumps, validation grammar): never shown.
        return CLIENT_ERROR_MESSAGES.get(code, f"AWS could not do this ({code or 'no error code'}): try again later.")
    if isinstance(error, BotoCoreError):
        return f"The AWS client failed ({type(error).__name__}): check the AWS settings and the network."
    if isinstance(error, OSError):
        return f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
    return f"Unexpected error: {type(error).__name__}: {error}"
