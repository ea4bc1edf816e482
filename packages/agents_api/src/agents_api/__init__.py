"""agents_api: the Litestar app and the ``agents`` command line."""

from importlib.metadata import version

__all__ = ["__version__"]

__version__ = version("agents-api")
"""The project's version: one for the three packages (their metadata), the CLI and the API's
OpenAPI document."""
