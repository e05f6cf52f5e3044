"""The HTTP API: a FastAPI app over the services, for apps, merchants, creators and operators."""

from xingqu.api.app import create_app

__all__ = ["create_app"]
