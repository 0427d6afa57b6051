from django.urls import path

from creditplan.decisions import views

app_name = "decisions"
urlpatterns = [
    path("", views.policy_list, name="policies"),
    path("upload/", views.upload, name="upload"),
    path("versions/<int:version_id>/", views.version_detail, name="version"),
    path("versions/<int:version_id>/validation/", views.validation_report, name="validation"),
    path("versions/<int:version_id>/tests/", views.tests_page, name="tests"),
    path("versions/<int:version_id>/tables/<str:table_id>/", views.grid, name="grid"),
    path("versions/<int:version_id>/<str:action>/", views.version_action, name="action"),
    path("simulation/", views.simulation, name="simulation"),
    path("authority/", views.authority, name="authority"),
    path("pricing/", views.pricing_index, name="pricing_index"),
    path("pricing/<str:product>/", views.pricing, name="pricing"),
    path("lpr/", views.lpr, name="lpr"),
    path("<int:decision_id>/", views.decision_detail, name="decision"),
]
