"""Errors of the e-certificate domain: one subclass per problem, the docstring is the title.

Verification of a token never raises these to its caller: ``esign.codec.verify.verify_token`` turns
every failure into a named reason. They are for building things (licence ids, certificates,
tokens) and for reading the signed lists, where a bad input is the caller's error.
"""

from __future__ import annotations

from api.kernel.problems import Problem


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


# --- seals, certificates and verification over HTTP --------------------------------------------


class SealNotFound(EsignError):
    """印章不存在"""

    status, slug = 404, "seal_not_found"


class SealNotActive(EsignError):
    """印章已停用或已吊销"""

    status, slug = 409, "seal_not_active"


class SealNotUsable(EsignError):
    """该印章不能用于签发此证照"""

    status, slug = 422, "seal_not_usable"


class NoActiveSeal(EsignError):
    """本部门没有可用的电子证照专用章或电子公章"""

    status, slug = 409, "no_active_seal"


class SealKeyHeldByDepartment(EsignError):
    """该印章密钥由部门自行保管，需部门签名"""

    status, slug = 409, "seal_key_held_by_department"


class CertificateTypeUnknown(EsignError):
    """证照类型不存在"""

    status, slug = 422, "certificate_type_unknown"


class CertificateTypeInvalid(EsignError):
    """证照类型定义不符合要求"""

    status, slug = 422, "certificate_type_invalid"


class GbTypeCodeImmutable(EsignError):
    """证照类型代码一经设定不可更改"""

    status, slug = 409, "gb_type_code_immutable"


class CertificateFieldsInvalid(EsignError):
    """证照字段不符合证照类型的要求"""

    status, slug = 422, "certificate_fields_invalid"


class HolderInvalid(EsignError):
    """持证主体信息不符合要求"""

    status, slug = 422, "holder_invalid"


class ValidityInvalid(EsignError):
    """证照有效期不符合要求"""

    status, slug = 422, "validity_invalid"


class ExternalRefConflict(EsignError):
    """该业务编号已用于另一份证照"""

    status, slug = 409, "external_ref_conflict"


class CertificateNotFound(EsignError):
    """证照不存在"""

    status, slug = 404, "certificate_not_found"


class CertificateRevoked(EsignError):
    """证照已吊销，状态不可再变更"""

    status, slug = 409, "certificate_revoked"


class CertificateStatusConflict(EsignError):
    """证照当前状态不允许此操作"""

    status, slug = 409, "certificate_status_conflict"


class CertificateNotPending(EsignError):
    """证照不在等待签名状态"""

    status, slug = 409, "certificate_not_pending"


class SigningWindowClosed(EsignError):
    """签名期限已过，请重新签发"""

    status, slug = 409, "signing_window_closed"


class SignatureInvalid(EsignError):
    """签名验证不通过"""

    status, slug = 422, "signature_invalid"


class StatusListNotFound(EsignError):
    """状态列表不存在"""

    status, slug = 404, "status_list_not_found"


class CertificateBatchNotFound(EsignError):
    """批量签发任务不存在"""

    status, slug = 404, "certificate_batch_not_found"


class CertificateBatchFailed(EsignError):
    """批量签发任务多次中断，已停止"""

    status, slug = 500, "certificate_batch_failed"


class DeviceNotFound(EsignError):
    """设备不存在"""

    status, slug = 404, "device_not_found"


class DeviceKeyInvalid(EsignError):
    """设备公钥无效"""

    status, slug = 422, "device_key_invalid"


class DeviceKeyRegistered(EsignError):
    """该设备公钥已登记"""

    status, slug = 409, "device_key_registered"


class EntitySealNotFound(EsignError):
    """企业电子印章不存在"""

    status, slug = 404, "entity_seal_not_found"


class EntitySealExists(EsignError):
    """该经营主体已有同一算法的有效电子印章"""

    status, slug = 409, "entity_seal_exists"


class EntitySealNotFiled(EsignError):
    """该经营主体尚未完成公章刻制备案"""

    status, slug = 409, "entity_seal_not_filed"
