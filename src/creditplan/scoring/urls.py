from django.urls import path

from creditplan.scoring import views

app_name = "scoring"
urlpatterns = [
    path("", views.model_list, name="models"),
    path("upload/", views.upload, name="upload"),
    path("<int:version_id>/", views.version_detail, name="version"),
    path("<int:version_id>/report/", views.report, name="report"),
    path("<int:version_id>/artifact/", views.artifact, name="artifact"),
    path("<int:version_id>/<str:action>/", views.act, name="act"),
]
