"""zhangban (掌办): the Litestar application and the shared mechanisms every domain writes through."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zhangban")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
