"""Every table of smscast: importing this module registers all model modules.

Alembic and the tests take `metadata` from here, so a new model module is added
to this list and nowhere else.
"""

from smscast.store import (
    api_models,
    campaign_models,
    channel_models,
    dispatch_models,
    inbound_models,
    messaging_models,
    models,
    traffic_models,
)

metadata = models.Base.metadata

__all__ = [
    "api_models",
    "campaign_models",
    "channel_models",
    "dispatch_models",
    "inbound_models",
    "messaging_models",
    "metadata",
    "models",
    "traffic_models",
]
