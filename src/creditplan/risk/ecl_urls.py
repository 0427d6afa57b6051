"""Expected credit loss, stress tests and behaviour re-rating pages, mounted at /risk/ecl/ (src/creditplan/urls.py)."""

from django.urls import path

from creditplan.risk import ecl_views as views

app_name = "risk_ecl"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("stress/", views.stress_page, name="stress"),
    path("behaviour/", views.behaviour_page, name="behaviour"),
]
