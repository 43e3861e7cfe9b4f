"""代办 authorisations (a person's 代办人; the same model serves an organisation's 经办人)."""

from auth.delegation.flows import active_grant, switch, use
from auth.delegation.routes import ROUTES

__all__ = ["ROUTES", "active_grant", "switch", "use"]
