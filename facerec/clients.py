"""`client(service_name)`: a boto3 client on AWS, or the local back end's.

The back end comes from the settings (FACEREC_BACKEND): `local` (the default:
no account, no network, real face recognition on this machine) or `aws`. A
local client comes with a back end of its own (facerec.local.backend): whoever
needs several local clients that work together (a service: the bucket's
notification indexing into the engine and table it reads) takes them from one
`local_backend`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facerec.settings import Settings, load

if TYPE_CHECKING:  # the app on AWS never loads the local engine
    from facerec.faces import Models
    from facerec.local.backend import LocalBackend


def client(service_name: str, settings: Settings | None = None, **kwargs: Any) -> Any:
    """A boto3-shaped client for `service_name` on the configured back end."""
    settings = settings or load()
    if settings.backend == "aws":
        import boto3

        return boto3.client(service_name, region_name=kwargs.pop("region_name", settings.region), **kwargs)
    return local_backend(settings).client(service_name)


def local_backend(settings: Settings, models: Models | None = None) -> LocalBackend:
    """A local back end on the settings' data folder (`models`: already loaded ones to share)."""
    from facerec.local.backend import LocalBackend

    return LocalBackend(settings, models)
