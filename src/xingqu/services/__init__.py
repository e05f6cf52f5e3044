"""Use cases over the runtime: the CLI and the API are thin edges over these functions and classes."""
