"""What clients read: every notification route is in the OpenAPI document with its problem types."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from api.kernel.problems import Problem
from notify.errors import NOTIFY_PROBLEMS
from tests.openapi_doc import inline_responses

OPERATIONS = {
    ("get", "/v1/notifications"): "ListNotifications",
    ("post", "/v1/notifications/{notification_id}/read"): "MarkNotificationRead",
    ("get", "/v1/notifications/stream"): "StreamNotifications",
    ("post", "/v1/notifications/wechat-grants"): "RecordWechatGrant",
    ("get", "/v1/notifications/wechat-grants"): "ListWechatGrants",
    ("put", "/v1/notifications/preferences"): "PutNotificationPreferences",
    ("get", "/v1/notifications/preferences"): "GetNotificationPreferences",
    ("post", "/v1/dept/webhooks"): "CreateWebhook",
    ("get", "/v1/dept/webhooks"): "ListWebhooks",
    ("delete", "/v1/dept/webhooks/{webhook_id}"): "DisableWebhook",
    ("get", "/v1/dept/webhooks/{webhook_id}/deliveries"): "ListWebhookDeliveries",
    ("get", "/v1/admin/notifications/{notification_id}"): "GetNotificationForOperator",
}


def _all_problems(cls: type[Problem] = Problem) -> list[type[Problem]]:
    return [cls, *(p for sub in cls.__subclasses__() for p in _all_problems(sub))]


def test_problem_types_are_titled_and_their_slugs_are_their_own() -> None:
    others = [p for p in _all_problems() if p not in NOTIFY_PROBLEMS]
    for p in NOTIFY_PROBLEMS:
        assert p.__doc__ and p.__doc__.strip() and p.slug.islower() and " " not in p.slug, p
        assert p.slug not in {o.slug for o in others}, p
    assert len({p.slug for p in NOTIFY_PROBLEMS}) == len(NOTIFY_PROBLEMS)


@pytest.fixture
async def spec(client: AsyncTestClient) -> dict:
    return inline_responses((await client.get("/schema/openapi.json")).json())


async def test_every_route_is_documented(spec: dict) -> None:
    for (method, path), operation_id in OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id and operation["summary"], operation_id
        problems = " ".join(r["description"] for code, r in operation["responses"].items() if code >= "400")
        assert "`unauthorized`" in problems, operation_id
        assert operation["security"] == [{"bearer": []}], operation_id
    described = spec["paths"]["/v1/dept/webhooks"]["post"]["responses"]["422"]["description"]
    assert "webhook_url_invalid" in described and "webhook_events_invalid" in described
    assert (
        "notification_not_found"
        in spec["paths"]["/v1/notifications/{notification_id}/read"]["post"]["responses"]["404"]["description"]
    )


async def test_the_live_stream_is_documented_as_server_sent_events(spec: dict) -> None:
    answer = spec["paths"]["/v1/notifications/stream"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/event-stream"]
