"""The provider registry: adding a provider is one module and one line here."""

from __future__ import annotations

from models import ProviderType
from providers.base import Provider
from providers.kaleyra import KaleyraProvider
from providers.meta import MetaProvider
from providers.sinch import SinchProvider
from providers.twilio import TwilioProvider

PROVIDERS: dict[ProviderType, Provider] = {
    ProviderType.twilio: TwilioProvider(),
    ProviderType.meta: MetaProvider(),
    ProviderType.sinch_v2: SinchProvider(),
    ProviderType.kaleyra: KaleyraProvider(),
}
