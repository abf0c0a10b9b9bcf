"""The provider registry. A provider is one module declaring its own configuration (see
`providers.base.Provider`) and one line here; the recipe is in providers/README.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import ProviderType
from providers.base import Provider
from providers.kaleyra import KaleyraProvider
from providers.meta import MetaProvider
from providers.sinch import SinchProvider
from providers.twilio import TwilioProvider

if TYPE_CHECKING:
    from settings import Settings

PROVIDERS: dict[ProviderType, Provider] = {
    ProviderType.twilio: TwilioProvider(),
    ProviderType.meta: MetaProvider(),
    ProviderType.sinch_v2: SinchProvider(),
    ProviderType.kaleyra: KaleyraProvider(),
}


def api_bases(settings: Settings) -> dict[ProviderType, str]:
    """Each provider's address from the settings (`Provider.api_base`)."""
    return {kind: provider.api_base(settings) for kind, provider in PROVIDERS.items()}
