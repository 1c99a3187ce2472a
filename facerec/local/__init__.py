"""The local back end: boto3-shaped clients served by this machine."""
