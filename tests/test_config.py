from __future__ import annotations

import pytest

from api.config import ConfigError, Settings, parse_sms_templates


def test_reads_prefixed_keys_with_types() -> None:
    s = Settings.from_env({"ZB_PORT": "9001", "ZB_LOG_FORMAT": "text", "OTHER": "x", "ZB_TEST_DATABASE_URL": "ignored"})
    assert s.port == 9001 and s.log_format == "text"
    assert s.database_url is None and s.embedded


def test_bad_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="ZB_PORT"):
        Settings.from_env({"ZB_PORT": "eighty"})
    with pytest.raises(ConfigError, match="ZB_LOG_FORMAT"):
        Settings.from_env({"ZB_LOG_FORMAT": "xml"})


def test_secrets_are_never_printed() -> None:
    s = Settings.from_env(
        {
            "ZB_MASTER_KEY": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==",
            "ZB_WECHAT_SECRET": "wxsecret",
            "ZB_DATABASE_URL": "postgresql://u:pw@h/db",
        }
    )
    text = repr(s) + str(s) + str(s.safe_items())
    assert "wxsecret" not in text and "c2VjcmV0" not in text and "pw@" not in text
    assert "master_key='***'" in repr(s)


def test_base_url_defaults_to_host_and_port() -> None:
    assert Settings(port=8123).base_url == "http://127.0.0.1:8123"
    assert Settings(public_base_url="https://zb.example.cn/").base_url == "https://zb.example.cn"


def test_sms_templates_are_a_json_object_of_codes() -> None:
    s = Settings.from_env({"ZB_SMS_TEMPLATES": '{"login_code": "SMS_100001", "application.completed": "SMS_100002"}'})
    assert parse_sms_templates(s.sms_templates) == {"login_code": "SMS_100001", "application.completed": "SMS_100002"}
    assert parse_sms_templates(Settings().sms_templates) == {}
    for bad in ('["SMS_1"]', '{"login_code": 1}', "login_code=SMS_1", '{"login_code": " "}'):
        with pytest.raises(ConfigError, match="ZB_SMS_TEMPLATES"):
            Settings.from_env({"ZB_SMS_TEMPLATES": bad})
