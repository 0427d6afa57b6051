"""Risk monitoring's use cases. Callers import `from creditplan.risk import services as risk`."""

from creditplan.risk.services.alerts import (
    RESOLUTIONS,
    AlertView,
    acknowledge,
    comment,
    get_alert,
    list_alerts,
    open_alert_count,
    resolve,
)
from creditplan.risk.services.indicators import (
    IndicatorView,
    define_indicator,
    get_indicator,
    install_standard,
    list_indicators,
    update_indicator,
)
from creditplan.risk.services.run import RunSummary, run_indicators, take_snapshot

__all__ = ["RESOLUTIONS", "AlertView", "IndicatorView", "RunSummary", "acknowledge", "comment", "define_indicator",
           "get_alert", "get_indicator", "install_standard", "list_alerts", "list_indicators", "open_alert_count",
           "resolve", "run_indicators", "take_snapshot", "update_indicator"]
