"""The fuzzer calls the same live server and world as the authorization matrix."""

from tests.authz.conftest import http, live, redis_url, settings, wechat_url, world  # noqa: F401 - fixtures
