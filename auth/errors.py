"""Problems raised by identity: logins, tokens, department access and real-person authentication.

Each class is one problem ``type`` (its ``slug``); the docstring is the Chinese title. Extension
members passed as keyword arguments (``reason``, ``required_level``, ``tries_left``) are safe to
show the client and never carry personal data.
"""

from __future__ import annotations

from api.kernel.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    problem_responses,  # noqa: F401 - re-exported for route modules
)

# --- logins ---------------------------------------------------------------------------------------


class WechatCodeInvalid(BadRequest):
    """微信登录凭证无效或已使用"""

    slug = "wechat_code_invalid"


class WechatUserBlocked(Forbidden):
    """该微信用户已被限制登录"""

    slug = "wechat_user_blocked"


class WechatUnavailable(ServiceUnavailable):
    """微信服务暂时不可用，请稍后再试"""

    slug = "wechat_unavailable"


class PhoneInUse(Conflict):
    """该手机号已绑定其他账号"""

    slug = "phone_in_use"


class SmsCodeInvalid(BadRequest):
    """短信验证码错误或已失效"""

    slug = "sms_code_invalid"


class SmsUnavailable(ServiceUnavailable):
    """短信服务暂时不可用，请稍后再试"""

    slug = "sms_unavailable"


# --- staff logins' second factor (TOTP) ----------------------------------------------------------


class TotpCodeInvalid(BadRequest):
    """动态验证码错误"""

    slug = "totp_code_invalid"


class TotpCodeReused(BadRequest):
    """动态验证码已使用过"""

    slug = "totp_code_reused"


class TotpNotEnrolled(Conflict):
    """尚未绑定身份验证器"""

    slug = "totp_not_enrolled"


class TotpAlreadyEnrolled(Conflict):
    """已绑定身份验证器"""

    slug = "totp_already_enrolled"


# --- tokens and guards ----------------------------------------------------------------------------


class RefreshTokenInvalid(Unauthorized):
    """刷新令牌无效或已过期"""

    slug = "refresh_token_invalid"


class RefreshTokenReused(Unauthorized):
    """刷新令牌已被使用，登录已全部失效"""

    slug = "refresh_token_reused"


class AssuranceRequired(Forbidden):
    """需要更高等级的实人认证"""

    slug = "assurance_required"


class InvalidClient(Unauthorized):
    """客户端认证失败"""

    slug = "invalid_client"


class UnsupportedGrantType(BadRequest):
    """不支持的授权类型"""

    slug = "unsupported_grant_type"


class InvalidScope(BadRequest):
    """申请的权限范围超出客户端授权"""

    slug = "invalid_scope"


# --- departments, clients, staff, identity providers ----------------------------------------------


class CreditCodeInvalid(ValidationFailed):
    """统一社会信用代码校验不通过"""

    slug = "credit_code_invalid"


class DepartmentExists(Conflict):
    """该统一社会信用代码的部门已存在"""

    slug = "department_exists"


class DepartmentNotFound(NotFound):
    """部门不存在"""

    slug = "department_not_found"


class ParentDepartmentNotFound(ValidationFailed):
    """上级部门不存在"""

    slug = "parent_department_not_found"


class AccountNotFound(ValidationFailed):
    """账号不存在"""

    slug = "account_not_found"


class StaffInOtherDepartment(Conflict):
    """该账号已是其他部门的工作人员"""

    slug = "staff_in_other_department"


class ClientNotFound(NotFound):
    """部门系统凭据不存在"""

    slug = "client_not_found"


class ClientRevoked(Conflict):
    """部门系统凭据已吊销"""

    slug = "client_revoked"


class IdentityProviderExists(Conflict):
    """该签发者的身份认证机构已登记"""

    slug = "identity_provider_exists"


class IdentityProviderKeyInvalid(ValidationFailed):
    """身份认证机构的公钥无法使用"""

    slug = "identity_provider_key_invalid"


# --- real-person authentication -------------------------------------------------------------------


class IdNumberInvalid(ValidationFailed):
    """身份证号码校验不通过"""

    slug = "id_number_invalid"


class RealnameSessionNotFound(NotFound):
    """实人认证会话不存在"""

    slug = "realname_session_not_found"


class RealnameSessionClosed(Conflict):
    """实人认证会话已结束或已过期"""

    slug = "realname_session_closed"


class RealnameFailed(ValidationFailed):
    """实人认证未通过"""

    slug = "realname_failed"


class RealnameMethodUnavailable(ValidationFailed):
    """当前账号无法使用该认证方式"""

    slug = "realname_method_unavailable"


class RealnamePersonMismatch(Conflict):
    """该账号已认证为另一身份"""

    slug = "realname_person_mismatch"


class RealnameIdNumberMismatch(ValidationFailed):
    """证件号码与认证会话不一致"""

    slug = "realname_id_number_mismatch"


class NotMeOwnLogin(Conflict):
    """不能对正在使用的登录报告“不是我”"""

    slug = "not_me_own_login"


class LoginNotFound(NotFound):
    """登录不存在或与您的身份无关"""

    slug = "login_not_found"


class IdentityCaseNotFound(NotFound):
    """身份核查工单不存在"""

    slug = "identity_case_not_found"


class IdentityCaseClosed(Conflict):
    """身份核查工单已关闭"""

    slug = "identity_case_closed"


AUTH_PROBLEMS: tuple[type[Problem], ...] = (
    WechatCodeInvalid,
    WechatUserBlocked,
    WechatUnavailable,
    PhoneInUse,
    SmsCodeInvalid,
    SmsUnavailable,
    RefreshTokenInvalid,
    RefreshTokenReused,
    AssuranceRequired,
    InvalidClient,
    UnsupportedGrantType,
    InvalidScope,
    CreditCodeInvalid,
    DepartmentExists,
    DepartmentNotFound,
    ParentDepartmentNotFound,
    AccountNotFound,
    StaffInOtherDepartment,
    ClientNotFound,
    ClientRevoked,
    IdentityProviderExists,
    IdentityProviderKeyInvalid,
    IdNumberInvalid,
    RealnameSessionNotFound,
    RealnameSessionClosed,
    RealnameFailed,
    RealnameMethodUnavailable,
    RealnamePersonMismatch,
    RealnameIdNumberMismatch,
    NotMeOwnLogin,
    LoginNotFound,
    IdentityCaseNotFound,
    IdentityCaseClosed,
)


# Shorthands for the common cases in route declarations.
AUTHN = (Unauthorized,)
AUTHZ = (Unauthorized, Forbidden)
LIMITED = (RateLimited,)
BAD_BODY = (BadRequest, ValidationFailed)


# --- acting for someone ---------------------------------------------------------------------------


class ReservedToPrincipal(Forbidden):
    """该操作只能由本人或法定代表人办理，代办人、经办人不可代为"""

    slug = "reserved_to_principal"


class LegalRepChanged(Forbidden):
    """登记的法定代表人已变更，不能再代表该经营主体"""

    slug = "legal_representative_changed"
