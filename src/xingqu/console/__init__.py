"""The web console: pages served beside the HTTP API that read everything through ``/v1`` with the
signed-in key (the key's role and tenancy decide what each page shows), in Chinese or English."""

from xingqu.console.pages import mount

__all__ = ["mount"]
