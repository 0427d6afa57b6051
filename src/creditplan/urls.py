from django.contrib import admin
from django.urls import include, path

from creditplan.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("models/", include("creditplan.scoring.urls")),
    path("plans/", include("creditplan.plans.urls")),
    path("loans/", include("creditplan.loans.urls")),
    path("decisions/", include("creditplan.decisions.urls")),
    path("applications/", include("creditplan.origination.urls")),
    path("integration/", include("creditplan.integration.urls")),
    path("documents/", include("creditplan.documents.urls")),
    path("", include("creditplan.web.urls")),
]
