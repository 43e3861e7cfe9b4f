from __future__ import annotations

from typing import TYPE_CHECKING

from api.kernel.surface import surface

# The public surface: what other domains may use of this one, and all they may import
# (docs/architecture.md); the rest of the package is its own business.
_SURFACE = {
    "FormInvalid": "matters.applications.errors",
    "supplement": "matters.applications.handling",
    "Code": "matters.applications.models",
    "MaterialRef": "matters.applications.models",
    "SubmitApplication": "matters.applications.models",
    "SupplementIn": "matters.applications.models",
    "require_applicant": "matters.applications.routes",
    "FOR_OTHERS_LEVEL": "matters.applications.routes",
    "FOR_OTHERS_MAX_AGE": "matters.applications.routes",
    "application": "matters.applications.views",
    "submit": "matters.applications.workflow",
    "withdraw": "matters.applications.workflow",
    "BundleNotFound": "matters.errors",
    "MatterNotFound": "matters.errors",
    "evaluate": "matters.feedback.flows",
    "EvaluationIn": "matters.feedback.models",
    "CertificateField": "matters.models",
    "CertificateType": "matters.models",
    "DepartmentRef": "matters.models",
    "known_matters": "matters.store",
    "list_bundles": "matters.store",
    "seed_catalogue": "matters.seed",
    "load_calendar": "matters.store",
    "Calendar": "matters.workdays",
    "names_blob": "matters.applications.store",
}
__getattr__ = surface(__name__, _SURFACE)
__all__ = [  # the names of _SURFACE
    "FOR_OTHERS_LEVEL",
    "FOR_OTHERS_MAX_AGE",
    "BundleNotFound",
    "Calendar",
    "CertificateField",
    "CertificateType",
    "Code",
    "DepartmentRef",
    "EvaluationIn",
    "FormInvalid",
    "MaterialRef",
    "MatterNotFound",
    "SubmitApplication",
    "SupplementIn",
    "application",
    "evaluate",
    "known_matters",
    "list_bundles",
    "load_calendar",
    "names_blob",
    "require_applicant",
    "seed_catalogue",
    "submit",
    "supplement",
    "withdraw",
]

if TYPE_CHECKING:
    from matters.applications.errors import FormInvalid
    from matters.applications.handling import supplement
    from matters.applications.models import Code, MaterialRef, SubmitApplication, SupplementIn
    from matters.applications.routes import FOR_OTHERS_LEVEL, FOR_OTHERS_MAX_AGE, require_applicant
    from matters.applications.store import names_blob
    from matters.applications.views import application
    from matters.applications.workflow import submit, withdraw
    from matters.errors import BundleNotFound, MatterNotFound
    from matters.feedback.flows import evaluate
    from matters.feedback.models import EvaluationIn
    from matters.models import CertificateField, CertificateType, DepartmentRef
    from matters.seed import seed_catalogue
    from matters.store import known_matters, list_bundles, load_calendar
    from matters.workdays import Calendar
