"""Problems raised while applying and handling applications."""

from __future__ import annotations

from api.kernel.problems import Conflict, Forbidden, NotFound, ValidationFailed


class ApplicationNotFound(NotFound):
    """申请不存在"""

    slug = "application_not_found"


class TaskNotFound(NotFound):
    """办件任务不存在"""

    slug = "task_not_found"


class MaterialsMissing(ValidationFailed):
    """缺少必需材料"""

    slug = "materials_missing"


class FormInvalid(ValidationFailed):
    """表单填写不符合要求"""

    slug = "form_invalid"


class MaterialInvalid(ValidationFailed):
    """材料引用无效"""

    slug = "material_invalid"


class ReasonsRequired(ValidationFailed):
    """退回必须列明理由（不打回票打清单）"""

    slug = "reasons_required"


class ApplicationIdReused(Conflict):
    """申请编号已用于另一份申请"""

    slug = "application_id_reused"


class ApplicationClosed(Conflict):
    """申请已办结或已撤回"""

    slug = "application_closed"


class TaskStateConflict(Conflict):
    """办件任务当前状态不允许该操作"""

    slug = "task_state_conflict"


class NotGuardian(Forbidden):
    """无权为该人员办理"""

    slug = "not_guardian"


class IdNumberInvalid(ValidationFailed):
    """身份证号码不正确"""

    slug = "id_number_invalid"


class ApplicantKindNotAllowed(Forbidden):
    """该事项不由此类申请人办理（个人事项须本人申请，企业事项须代表经营主体申请）"""

    slug = "applicant_kind_not_allowed"


class CreditCodeRequired(ValidationFailed):
    """该事项的结果证照由新设主体持有，需填写统一社会信用代码"""

    slug = "credit_code_required"


class MaterialNotFound(NotFound):
    """该办件事项没有此材料"""

    slug = "material_not_found"


class MaterialNotAvailable(Conflict):
    """该材料暂时无法调阅（尚未签发、尚未上传或由持有部门共享）"""

    slug = "material_not_available"


class AssignedIdNumberMismatch(ValidationFailed):
    """分配的身份证号码与新生儿的出生日期或性别不符"""

    slug = "assigned_id_number_mismatch"
