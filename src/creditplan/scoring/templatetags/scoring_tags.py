from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

_STATUS = {"draft": _("draft"), "validated": _("validated"), "approved": _("approved"),
           "champion": _("champion"), "retired": _("retired")}
_KIND = {"scorecard": _("scorecard"), "tree": _("decision tree"), "gbm": _("gradient boosting (LightGBM)")}


@register.filter
def model_status(value: str) -> str:
    return str(_STATUS.get(value, value))


@register.filter
def model_kind(value: str) -> str:
    return str(_KIND.get(value, value))
