"""Face recognition with one code path on two back ends: AWS, or this machine."""

from facerec.clients import client

__all__ = ["client"]
