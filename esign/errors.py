"""Errors of the e-certificate domain: one subclass per problem, the docstring is the title.

Verification of a token never raises these to its caller: ``esign.verify.verify_token`` turns
every failure into a named reason. They are for building things (licence ids, certificates,
tokens) and for reading the signed lists, where a bad input is the caller's error.
"""

from __future__ import annotations

from api.problems import Problem


class EsignError(Problem):
    """电子证照请求未能完成"""

    status, slug = 400, "esign_error"


class InvalidLicenceId(EsignError):
    """证照标识格式错误"""

    status, slug = 422, "invalid_licence_id"


class UnsupportedAlgorithm(EsignError):
    """不支持的签名算法"""

    status, slug = 422, "unsupported_algorithm"


class InvalidKey(EsignError):
    """密钥无效"""

    status, slug = 422, "invalid_key"


class InvalidCsr(EsignError):
    """证书签名请求无效"""

    status, slug = 422, "invalid_csr"


class InvalidCertificate(EsignError):
    """印章证书无效"""

    status, slug = 422, "invalid_certificate"


class MalformedToken(EsignError):
    """证照令牌格式错误"""

    status, slug = 422, "malformed_token"


class TokenTooLarge(EsignError):
    """证照令牌过长"""

    status, slug = 422, "token_too_large"


class SigningFailed(EsignError):
    """签章失败"""

    status, slug = 502, "signing_failed"


class InvalidTrustList(EsignError):
    """信任列表无效"""

    status, slug = 422, "invalid_trust_list"


class InvalidStatusList(EsignError):
    """状态列表无效"""

    status, slug = 422, "invalid_status_list"
