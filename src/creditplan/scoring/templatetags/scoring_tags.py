from django import template

from creditplan.scoring import labels

register = template.Library()


@register.filter
def model_status(value: str) -> str:
    return labels.label("status", value)


@register.filter
def model_kind(value: str) -> str:
    return labels.label("kind", value)


@register.filter
def feature_label(name: str) -> str:
    """A scorecard input's name in the page's language (scoring.labels)."""
    return labels.feature_label(name)


@register.simple_tag
def feature_value(name: str, value: object) -> str:
    """A scorecard input's value in the page's language (scoring.labels)."""
    return labels.feature_value_label(name, value)
