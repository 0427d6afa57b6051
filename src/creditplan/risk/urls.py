from django.urls import path

from creditplan.risk import views

app_name = "risk"
# Model monitoring has its own pages under /risk/models/ (a separate urlconf): no path here starts with "models/".
urlpatterns = [
    path("", views.overview, name="overview"),
    path("indicators/", views.indicator_list, name="indicators"),
    path("new-indicator/", views.indicator_create, name="indicator_create"),
    path("indicators/<slug:code>/", views.indicator_detail, name="indicator"),
    path("indicators/<slug:code>/edit/", views.indicator_edit, name="indicator_edit"),
    path("loans/", views.drill, name="loans"),
    path("delinquency/", views.delinquency, name="delinquency"),
    path("vintage/", views.vintage, name="vintage"),
    path("migration/", views.migration, name="migration"),
    path("concentration/", views.concentration, name="concentration"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/<str:action>/", views.alert_action, name="alert_action"),
]
