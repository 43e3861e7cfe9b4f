"""Everything a client of the e-certificate API sees is in the OpenAPI document."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.openapi_doc import inline_responses

OPERATIONS = {
    ("post", "/v1/dept/seals"): "CreateSeal",
    ("get", "/v1/dept/seals"): "ListSeals",
    ("post", "/v1/dept/seals/{seal_id}/revoke"): "RevokeSeal",
    ("post", "/v1/dept/seals/{seal_id}/rotate"): "RotateSeal",
    ("get", "/v1/seals/{kid}/image.svg"): "GetSealImage",
    ("post", "/v1/dept/certificates"): "IssueCertificate",
    ("post", "/v1/dept/certificates:batch"): "IssueCertificateBatch",
    ("get", "/v1/dept/certificates/{certificate_id}"): "GetIssuedCertificate",
    ("post", "/v1/dept/certificates/{certificate_id}/signature"): "SignCertificate",
    ("post", "/v1/dept/certificates/{certificate_id}/revoke"): "RevokeCertificate",
    ("post", "/v1/dept/certificates/{certificate_id}/suspend"): "SuspendCertificate",
    ("post", "/v1/dept/certificates/{certificate_id}/resume"): "ResumeCertificate",
    ("get", "/v1/certificates/{certificate_id}"): "GetCertificate",
    ("get", "/v1/certificates/{certificate_id}/qr.png"): "GetCertificateQrPng",
    ("get", "/v1/certificates/{certificate_id}/qr.svg"): "GetCertificateQrSvg",
    ("get", "/v1/trust-list"): "GetTrustList",
    ("get", "/v1/status-lists/{list_id}"): "GetStatusList",
    ("get", "/v1/root-certificate"): "GetRootCertificate",
    ("post", "/v1/verify"): "VerifyToken",
    ("get", "/v/{token}"): "VerificationPage",
    ("post", "/v1/admin/certificate-types"): "UpsertCertificateType",
}


async def test_every_operation_is_documented(client: AsyncTestClient) -> None:
    doc = inline_responses((await client.get("/schema/openapi.json")).json())
    for (method, path), operation_id in OPERATIONS.items():
        op = doc["paths"][path][method]
        assert op["operationId"] == operation_id, path
        assert op.get("summary"), path
    issue = doc["paths"]["/v1/dept/certificates"]["post"]
    assert {"201", "202", "409", "422", "403"} <= set(issue["responses"])
    assert "external_ref_conflict" in issue["responses"]["409"]["description"]
    assert "certificate_fields_invalid" in issue["responses"]["422"]["description"]
    assert "id_number_invalid" in issue["responses"]["422"]["description"]
    schemas = doc["components"]["schemas"]
    certificate = next(
        v
        for k, v in schemas.items()
        if k.endswith("Certificate") and "licence_id" in v.get("properties", {}) and "token" in v["properties"]
    )
    assert set(certificate["properties"]) == {
        "id",
        "licence_id",
        "type_code",
        "type_name",
        "holder",
        "fields",
        "issuer",
        "seal_kid",
        "issued_at",
        "valid_from",
        "valid_until",
        "status",
        "status_ref",
        "token",
        "qr_url",
    }
    assert "rate_limited" in doc["paths"]["/v1/verify"]["post"]["responses"]["429"]["description"]
    assert (
        "seal_not_active" in doc["paths"]["/v1/dept/seals/{seal_id}/revoke"]["post"]["responses"]["409"]["description"]
    )
