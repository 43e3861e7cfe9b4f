"""代办 authorisations (a person's 代办人; the same model serves an organisation's 经办人)."""

from api.delegation.flows import active_grant, switch, use
from api.delegation.routes import ROUTES

__all__ = ["ROUTES", "active_grant", "switch", "use"]
