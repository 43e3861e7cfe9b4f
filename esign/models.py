"""Request and response shapes of the e-certificate API (API.md, "Seals and certificates").

Input types are strict (unknown fields refused); read types are frozen. Times are RFC 3339 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from api.kernel.problems import ProblemDocument

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Pem = Annotated[str, msgspec.Meta(max_length=16384, description="PEM (or base64 DER) PKCS #10 request.")]

# --- seals ---------------------------------------------------------------------------------------


class SealIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40, examples=["电子证照专用章"])]
    kind: Literal["official", "business"] = "official"
    algorithm: Annotated[
        Literal["ES256", "SM2"] | None,
        msgspec.Meta(description="Default: ES256 for a key made here, the CSR's key algorithm with `csr_pem`."),
    ] = None
    csr_pem: Pem | None = None


class RotateSealIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | None = None
    algorithm: Literal["ES256", "SM2"] | None = None
    csr_pem: Pem | None = None


class ReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class OptionalReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason | None = None


class Seal(msgspec.Struct, frozen=True, kw_only=True):
    seal_id: UUID
    kid: str
    certificate_pem: str
    status: Literal["active", "retired", "revoked"]
    name: str
    kind: Literal["official", "business"]
    algorithm: Literal["ES256", "SM2"]
    key_custody: Literal["platform", "department"]
    department_id: UUID
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None
    replaces: UUID | None
    image_url: str


class SealPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Seal]
    next_cursor: str | None


# --- certificate types ---------------------------------------------------------------------------


class FieldIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    type: Literal["string", "date", "integer", "enum"]
    required: bool = True
    sensitive: bool = False
    enum: (
        Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(max_length=100)] | None
    ) = None


class CertificateTypeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,63}$", examples=["fishing_licence"])]
    name: Name
    holder_kind: Literal["person", "organisation"]
    issuer_department_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=200)]
    fields: Annotated[list[FieldIn], msgspec.Meta(min_length=1, max_length=50)]
    validity_days: Annotated[int, msgspec.Meta(ge=1, le=36500)] | None = None
    gb_type_code: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[0-9A-Z]{18}[0-9]{3}$",
                description="证照类型代码: the defining department's credit code and 3 digits. Made when absent; "
                "fixed once set.",
            ),
        ]
        | None
    ) = None
    defining_department_id: UUID | None = None


# --- issuing ---------------------------------------------------------------------------------------


# An issuing batch decodes up to 10,000 items: left untracked by the cycle collector (``gc=False``),
# they neither trigger collections nor lengthen them. They hold decoded JSON only, which has no cycles.


class HolderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    """A person (``id_number`` + ``name``) or an organisation (``credit_code`` + ``name``)."""

    name: Name
    id_number: Annotated[str, msgspec.Meta(max_length=32, description="GB 11643.")] | None = None
    credit_code: Annotated[str, msgspec.Meta(max_length=32, description="GB 32100.")] | None = None


class IssueIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    type_code: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["household_register"])]
    holder: HolderIn
    fields: dict[str, Any]
    external_ref: Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=128, description="The department's own reference; unique per department."
        ),
    ]
    valid_from: AwareTime | None = None
    valid_until: AwareTime | None = None
    seal_id: UUID | None = None
    application_id: UUID | None = None


class BatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    items: Annotated[list[IssueIn], msgspec.Meta(min_length=1, max_length=10000)]


class BatchResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    index: int
    status: Literal["issued", "existing", "failed"]
    certificate_id: UUID | None = None
    error: ProblemDocument | None = None


class CertificateBatch(msgspec.Struct, frozen=True, kw_only=True):
    """A batch issuing request and how far the workers have got with it."""

    id: UUID
    state: Literal["queued", "running", "done", "failed"]
    total: int
    processed: int  # issued + existing + failed
    issued: int
    existing: int
    failed: int
    progress: float  # processed / total, 0 to 1
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: ProblemDocument | None = None  # why a failed batch stopped (its settled items keep their results)
    results_url: str  # GET it for the per-item results, paginated


class BatchResultPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[BatchResult]
    next_cursor: str | None


class HolderOut(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["person", "organisation"]
    name_masked: str
    id_masked: str


class IssuerOut(msgspec.Struct, frozen=True, kw_only=True):
    department_id: UUID
    name: str
    credit_code: str


class StatusRef(msgspec.Struct, frozen=True, kw_only=True):
    list_id: int
    index: int


class Certificate(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    licence_id: str
    type_code: str
    type_name: str
    holder: HolderOut
    fields: dict[str, Any]
    issuer: IssuerOut
    seal_kid: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    status: Literal["valid", "suspended", "revoked", "expired"]
    status_ref: StatusRef
    token: str
    qr_url: Annotated[
        str,
        msgspec.Meta(
            description='What the certificate\'s QR code holds: QR_BASE + "/V/" + the token (space, % and / escaped), '
            "all QR alphanumeric characters; a phone camera or WeChat scan opens the verification page."
        ),
    ]


class PendingSignature(msgspec.Struct, frozen=True, kw_only=True):
    """A certificate waiting for the signature of a department that keeps its seal key."""

    certificate_id: UUID
    status: Literal["awaiting_signature"]
    licence_id: str
    seal_id: UUID
    kid: str
    alg: Literal["ES256", "SM2"]
    to_be_signed: str  # base64 of the COSE Sig_structure bytes
    sign_by: datetime


class SignatureIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    signature: Annotated[str, msgspec.Meta(max_length=200, description="base64 of the raw r‖s signature (64 bytes).")]


# --- verification ----------------------------------------------------------------------------------


class VerifyIn(msgspec.Struct, kw_only=True):
    token: Annotated[str, msgspec.Meta(description="A ZB1: or ZB2: token, or the URL of its QR code (`…/V/<token>`).")]
    cnonce: Annotated[
        str | None,
        msgspec.Meta(
            description="The nonce the verifier showed the holder before scanning (base64url, 1 to 64 "
            "bytes): a ZB2: presentation must carry it (claim 39), else reason `nonce`."
        ),
    ] = None


class MaskedHolder(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id: str


class VerifiedIssuer(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None
    credit_code: str
    department_id: UUID | None


class VerifiedField(msgspec.Struct, frozen=True, kw_only=True):
    """A disclosed field as the trust list's type registry names it (zh-CN ``label``)."""

    n: Annotated[int, msgspec.Meta(description="The field's registry number, its key in the token.")]
    key: str | None
    label: str | None
    value: Any


class VerifiedCertificate(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["certificate", "presentation"]
    type_code: str
    type_name: str | None
    gb_type_code: str
    licence_id: Annotated[
        str,
        msgspec.Meta(
            description="Rebuilt from the type's GB code, the issuer, the serial "
            "and the version the token carries, with its check character."
        ),
    ]
    holder_masked: MaskedHolder
    fields: list[VerifiedField]
    issuer: VerifiedIssuer
    issued_at: datetime
    valid_until: datetime | None
    status_ref: StatusRef
    holder_bound: Annotated[
        bool,
        msgspec.Meta(
            description="true for a ZB2: presentation, made on the holder's registered device and signed with its key; "
            "false for a certificate or a ZB1: presentation made by the server."
        ),
    ] = False


class VerifyOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    valid: bool
    reasons: list[str]
    checks: dict[str, str]
    certificate: VerifiedCertificate | None = None
    seal_kid: str | None = None
    trust_list: Literal["fresh", "stale", "expired"] | None = None
