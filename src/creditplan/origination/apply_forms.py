"""The online form's steps: each step's fields of the one online form (forms.OnlineApplicationForm), with what
that step requires. The whole form is checked once more, with every service rule, when it is sent."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from creditplan.origination.drafts import FIELDS
from creditplan.origination.forms import OnlineApplicationForm

REQUIRED: dict[str, tuple[str, ...]] = {"offer": ("product", "amount", "term"), "details": ("loan_purpose",),
                                        "consent": ("consent",)}


class StepForm(OnlineApplicationForm):
    """One step: only that step's fields; its required ones say so next to the field."""

    def __init__(self, *args: Any, step: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step = step
        for name in list(self.fields):
            if name not in FIELDS[step]:
                del self.fields[name]
        for name in REQUIRED[step]:
            self.fields[name].required = True
            if name == "consent":
                self.fields[name].error_messages["required"] = _("Please agree so that we can assess your "
                                                                 "application.")
            else:
                self.fields[name].error_messages["required"] = _("This field is required.")
