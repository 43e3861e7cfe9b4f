from __future__ import annotations

from typing import TYPE_CHECKING

from api.kernel.surface import surface

# The public surface: what other domains may use of this one, and all they may import
# (docs/architecture.md); the rest of the package is its own business.
_SURFACE = {
    "closed_among": "wallet.closure",
    "ensure_open": "wallet.closure",
    "grant": "wallet.consents",
    "grant_at_window": "wallet.consents",
    "record_agent_use": "wallet.consents",
    "record_task_read": "wallet.consents",
    "revoke": "wallet.consents",
    "use": "wallet.consents",
    "department_of": "wallet.dept_routes",
    "ConsentNotActive": "wallet.errors",
    "ConsentNotFound": "wallet.errors",
    "IdentityRequired": "wallet.errors",
    "WalletClosed": "wallet.errors",
    "add_life_event": "wallet.events",
    "esign_of": "wallet.http",
    "ConsentIn": "wallet.models",
    "LifeEvent": "wallet.models",
    "slim_item": "wallet.service",
    "get_certificate_item_id": "wallet.store",
    "insert_wallet_item": "wallet.store",
    "update_certificate_item": "wallet.store",
    "WalletItem": "wallet.store",
}
__getattr__ = surface(__name__, _SURFACE)
__all__ = [  # the names of _SURFACE
    "ConsentIn",
    "ConsentNotActive",
    "ConsentNotFound",
    "IdentityRequired",
    "LifeEvent",
    "WalletClosed",
    "WalletItem",
    "add_life_event",
    "closed_among",
    "department_of",
    "ensure_open",
    "esign_of",
    "get_certificate_item_id",
    "grant",
    "grant_at_window",
    "insert_wallet_item",
    "record_agent_use",
    "record_task_read",
    "revoke",
    "slim_item",
    "update_certificate_item",
    "use",
]

if TYPE_CHECKING:
    from wallet.closure import closed_among, ensure_open
    from wallet.consents import grant, grant_at_window, record_agent_use, record_task_read, revoke, use
    from wallet.dept_routes import department_of
    from wallet.errors import ConsentNotActive, ConsentNotFound, IdentityRequired, WalletClosed
    from wallet.events import add_life_event
    from wallet.http import esign_of
    from wallet.models import ConsentIn, LifeEvent
    from wallet.service import slim_item
    from wallet.store import WalletItem, get_certificate_item_id, insert_wallet_item, update_certificate_item
