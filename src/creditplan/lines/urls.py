from django.urls import path

from creditplan.lines import views

app_name = "lines"
urlpatterns = [
    path("", views.line_list, name="lines"),
    path("new/", views.line_propose, name="propose"),
    path("approvals/", views.approvals, name="approvals"),
    path("changes/<int:change_id>/<str:decision>/", views.change_decide, name="decide"),
    path("<int:line_id>/", views.line_detail, name="line"),
    path("<int:line_id>/risk/", views.line_risk, name="risk"),
]
