"""Request and response bodies of the HTTP API, apart from the store's rows and the pipelines' classes:
what a client sends and receives, documented in the OpenAPI document."""
