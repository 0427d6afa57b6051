from django.contrib import admin
from django.urls import include, path

from creditplan.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("org/", include("creditplan.org.urls")),  # administration pages (users, roles, branches); /admin/: developers
    path("models/", include("creditplan.scoring.urls")),
    path("plans/", include("creditplan.plans.urls")),
    path("lines/", include("creditplan.lines.urls")),
    path("loans/", include("creditplan.loans.urls")),
    path("decisions/", include("creditplan.decisions.urls")),
    path("applications/", include("creditplan.origination.urls")),
    path("integration/", include("creditplan.integration.urls")),
    path("documents/", include("creditplan.documents.urls")),
    path("post-loan/", include("creditplan.risk.review_urls")),  # post-loan review tasks, dynamic limits (risk app)
    path("risk/watch/", include("creditplan.risk.warning_urls")),  # early warning: the watch list, weights, imports
    path("risk/", include("creditplan.risk.monitoring_urls")),  # /risk/models/…, /risk/report/ (model monitoring)
    path("risk/ecl/", include("creditplan.risk.ecl_urls")),  # expected credit loss, stress tests, re-rating
    path("risk/", include("creditplan.risk.urls")),  # risk monitoring: overview, indicators, analytics, alerts
    path("", include("creditplan.web.urls")),
]

# What a user meets when a request fails: pages in the reader's language and the site's layout, problem+json under
# /api/ (web/error_views.py). Django's debug pages only with CREDITPLAN_DEBUG=1, on a developer's machine.
handler400 = "creditplan.web.error_views.bad_request"
handler403 = "creditplan.web.error_views.permission_denied"
handler404 = "creditplan.web.error_views.page_not_found"
handler500 = "creditplan.web.error_views.server_error"
