"""Problems raised by notifications; each class is one problem ``type`` and its Chinese title."""

from __future__ import annotations

from api.kernel.problems import Conflict, NotFound, ValidationFailed


class NotificationNotFound(NotFound):
    """通知不存在"""

    slug = "notification_not_found"


class DeadLetterNotFound(NotFound):
    """死信不存在"""

    slug = "dead_letter_not_found"


class WebhookNotFound(NotFound):
    """回调地址不存在"""

    slug = "webhook_not_found"


class WebhookDeliveryNotFound(NotFound):
    """回调投递记录不存在"""

    slug = "webhook_delivery_not_found"


class WebhookDeliveryNotFailed(Conflict):
    """该投递未失败，无需重发"""

    slug = "webhook_delivery_not_failed"


class WebhookDisabled(Conflict):
    """回调地址已停用"""

    slug = "webhook_disabled"


class WebhookUrlInvalid(ValidationFailed):
    """回调地址不可用"""

    slug = "webhook_url_invalid"


class WebhookUrlNotPublic(ValidationFailed):
    """回调地址不是公网地址"""

    slug = "webhook_url_not_public"


class WebhookEventsInvalid(ValidationFailed):
    """订阅的事件类型不存在"""

    slug = "webhook_events_invalid"


class WechatTemplateUnknown(ValidationFailed):
    """订阅消息模板不存在"""

    slug = "wechat_template_unknown"


class WechatNotBound(Conflict):
    """当前账号未通过微信登录，无法接收订阅消息"""

    slug = "wechat_not_bound"


NOTIFY_PROBLEMS = (
    NotificationNotFound,
    DeadLetterNotFound,
    WebhookNotFound,
    WebhookDeliveryNotFound,
    WebhookDeliveryNotFailed,
    WebhookDisabled,
    WebhookUrlInvalid,
    WebhookEventsInvalid,
    WechatTemplateUnknown,
    WechatNotBound,
)
