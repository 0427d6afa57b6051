from django.conf.locale.en.formats import *  # noqa: F403

NUMBER_GROUPING = 3
# An English page shows "7 Dec 2026", never the US 12/07/2026 that a Chinese reader takes for 12 July (issue 20).
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y H:i"
