from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "creditplan.risk"
    label = "risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """The close (loans, below risk) keeps the book's snapshot and runs the indicators after each date through
        the hooks registered here (CREDITPLAN_RISK_AFTER_CLOSE; risk/services/nightly.py)."""
        from creditplan.loans import cob
        from creditplan.risk.services import nightly

        cob.register_before_close(nightly.before_close)
        cob.register_after_close(nightly.after_close)
        # early warning (issue 17): its level table lives in the decision engine; its run follows the indicators
        from creditplan.risk.services import signals

        signals.register()
        # post-loan management (issue 17, items 3 and 5): review tasks from the watch list's moves and the daily review
        # job after the signals; the dynamic-limit table with the decision engine (docs/post-loan.md)
        from creditplan.risk.services import limits, reviews

        reviews.register()
        limits.register()
