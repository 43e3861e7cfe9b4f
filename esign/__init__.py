"""Electronic certificates (电子证照): the platform CA, seals, signed tokens, trust and status lists.

``esign.codec`` is the database-free core that verifiers use offline. Backed by PostgreSQL, for the
application (``esign.wiring`` is what ``api/app.py`` plugs in):

- ``ca``, ``state``                the platform root and presentation seal; per-process state
- ``seals``                        departments' seals: made, rotated, revoked
- ``entity_seals``                 企业电子印章: business entities' e-seals, made on their behalf, and what they sign
- ``service``                      the rules of issuing (fields, holders, validity, canonical record), pure
- ``flows``, ``views``,            issuing one certificate (``issue_certificate``, also for other
  ``delivery``                     domains), department signatures, revoke / suspend / resume
- ``batch``                        batch issuing as a job: chunks signed in a process pool, written by
                                   binary COPY (``batch.jobs``, ``batch.flows``, ``batch.sign``, ``batch.rows``)
- ``lists``                        status-list slots; the signed trust list and status lists, cached
- ``verification``                 ``/v1/verify`` against the current signed lists
- ``devices``, ``routes.device``  holders' device keys and their presentation credentials
- ``zb2``, ``zb2_verify``  ``ZB2:`` presentations made on the holder's device (SD-CWT), their verification
- ``store``                        SQL of certificates, serials, seals and certificate types
- ``routes``, ``http``, ``models``, ``errors``   the HTTP API
- ``seal_image``, ``page``         the round red picture of a seal (SVG); the verification page's HTML
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.kernel.surface import surface

# The public surface: what other domains may use of this one, and all they may import
# (docs/architecture.md); the rest of the package is its own business.
_SURFACE = {
    "qr_png": "esign.codec.qr",
    "canonical": "esign.entity_seals",
    "sign_submission": "esign.entity_seals",
    "verify_submission": "esign.entity_seals",
    "CertificateNotFound": "esign.errors",
    "issue_certificate": "esign.flows",
    "presentation_token": "esign.flows",
    "registry_fields": "esign.flows",
    "Certificate": "esign.models",
    "HolderIn": "esign.models",
    "IssueIn": "esign.models",
    "EsignState": "esign.state",
    "credential_to_wire": "esign.devices",
    "SELECT_SHOWN": "esign.store.certificate",
    "ShownCertificate": "esign.store.certificate",
    "certificate_view": "esign.views",
    "certificate_views": "esign.views",
    "shown": "esign.views",
    "certificate_token": "esign.store.certificate",
    "first_credit_code": "esign.store.certificate",
    "seal_name": "esign.store.seal",
}
__getattr__ = surface(__name__, _SURFACE)
__all__ = [  # the names of _SURFACE
    "SELECT_SHOWN",
    "Certificate",
    "CertificateNotFound",
    "EsignState",
    "HolderIn",
    "IssueIn",
    "ShownCertificate",
    "canonical",
    "certificate_token",
    "certificate_view",
    "certificate_views",
    "credential_to_wire",
    "first_credit_code",
    "issue_certificate",
    "presentation_token",
    "qr_png",
    "registry_fields",
    "seal_name",
    "shown",
    "sign_submission",
    "verify_submission",
]

if TYPE_CHECKING:
    from esign.codec.qr import qr_png
    from esign.devices import credential_to_wire
    from esign.entity_seals import canonical, sign_submission, verify_submission
    from esign.errors import CertificateNotFound
    from esign.flows import issue_certificate, presentation_token, registry_fields
    from esign.models import Certificate, HolderIn, IssueIn
    from esign.state import EsignState
    from esign.store.certificate import SELECT_SHOWN, ShownCertificate, certificate_token, first_credit_code
    from esign.store.seal import seal_name
    from esign.views import certificate_view, certificate_views, shown
