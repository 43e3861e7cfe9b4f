"""Notifications: events turned into inbox items, WeChat subscribe messages, SMS and department webhooks.

Pipeline: business transactions write outbox events → ``jobs.relay`` moves them to Redis Streams →
``expand`` writes notifications (the inbox), change-log entries and deliveries in one transaction →
``deliver`` sends deliveries per channel, fairly across departments, recording every attempt.
Modules: ``catalogue`` (events, audiences, zh-CN texts, WeChat templates), ``render``, ``plan`` and
``service`` (pure rules), ``inbox`` (marking read, for other domains too), ``recipients``, ``store``, ``dispatch_store``, ``webhook_store`` (SQL),
``streams`` (Redis Streams), ``dead_letters`` (what operators do with them), ``expand``, ``deliver``, ``channels``, ``webclient``, ``live`` (SSE), ``socket`` (the live channel over a WebSocket),
``routes``, ``webhook_routes``, ``jobs``, ``errors``, ``models``.
"""
