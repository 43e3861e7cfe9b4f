"""Problems of sync and blobs.

HTTP problems answer a request. Mutation problems are raised inside a pushed mutation: the push
records the mutation as ``rejected`` with ``code`` = the slug, exactly as it does for the problems
the shared services raise (``materials_missing``, ``application_closed`` …).
"""

from __future__ import annotations

from api.kernel.problems import Conflict, Forbidden, NotFound, Problem, ValidationFailed

# --- HTTP -------------------------------------------------------------------------------------------


class BlobHashMismatch(ValidationFailed):
    """上传内容的 SHA-256 与地址不符"""

    slug = "blob_hash_mismatch"


class BlobTypeMismatch(ValidationFailed):
    """上传内容与声明的类型不符"""

    slug = "blob_type_mismatch"


class BlobTypeUnsupported(Problem):
    """只接受 JPEG、PNG 或 PDF 文件"""

    status, slug = 415, "blob_type_unsupported"


class BlobTooLarge(Problem):
    """文件超过 10 MiB"""

    status, slug = 413, "blob_too_large"


class BlobEmpty(ValidationFailed):
    """上传内容为空"""

    slug = "blob_empty"


class BlobNotFound(NotFound):
    """文件不存在"""

    slug = "blob_not_found"


# --- mutations (become `rejected` results, never HTTP responses) -------------------------------------


class MutationUnknown(ValidationFailed):
    """未知的同步操作"""

    slug = "unknown_mutation"


class MutationNotSupported(ValidationFailed):
    """该同步操作暂不支持"""

    slug = "not_supported"


class ServerOwned(Forbidden):
    """证照和部门记录由签发部门维护，客户端不能修改"""

    slug = "server_owned"


class MutationIdReused(Conflict):
    """操作编号已用于另一个操作"""

    slug = "id_reused"


class SeqReused(Conflict):
    """该序号已处理过另一个操作"""

    slug = "seq_reused"


class DraftNotFound(NotFound):
    """草稿不存在"""

    slug = "draft_not_found"


class BaseVersionInvalid(ValidationFailed):
    """base_version 超过了服务器上的版本"""

    slug = "base_version_invalid"


class DraftTooLarge(ValidationFailed):
    """草稿表单过大"""

    slug = "draft_too_large"


HTTP_PROBLEMS = (BlobHashMismatch, BlobTypeMismatch, BlobTypeUnsupported, BlobTooLarge, BlobEmpty, BlobNotFound)
MUTATION_PROBLEMS = (
    MutationUnknown,
    MutationNotSupported,
    ServerOwned,
    MutationIdReused,
    SeqReused,
    DraftNotFound,
    BaseVersionInvalid,
    DraftTooLarge,
)
