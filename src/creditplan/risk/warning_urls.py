"""Early-warning pages, mounted at /risk/watch/ (src/creditplan/urls.py; risk/warning_views.py)."""

from django.urls import path

from creditplan.risk import warning_views as views

app_name = "risk_watch"
urlpatterns = [
    path("", views.watch_list, name="list"),
    path("<int:entry_id>/", views.watch_detail, name="entry"),
    path("weights/", views.weights, name="weights"),
    path("external/", views.external_records, name="external"),
]
