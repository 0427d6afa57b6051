from django.urls import path

from creditplan.documents import views

app_name = "documents"
urlpatterns = [
    path("versions/<int:version_id>/", views.view_version, name="view"),
    path("applications/<str:ref>/upload/", views.upload, name="upload"),
    path("applications/<str:ref>/contract/offer/", views.offer, name="offer"),
    path("applications/<str:ref>/contract/sign/", views.sign, name="sign"),
    path("applications/<str:ref>/contract/disburse/", views.disburse, name="disburse"),
]
