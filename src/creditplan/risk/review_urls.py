"""Post-loan pages, mounted at /post-loan/ (src/creditplan/urls.py; risk/review_views.py)."""

from django.urls import path

from creditplan.risk import review_views as views

app_name = "risk_reviews"
urlpatterns = [
    path("", views.task_list, name="tasks"),
    path("limits/", views.proposals, name="limits"),
    path("limits/<int:proposal_id>/decide/", views.proposal_decide, name="decide"),
    path("<int:task_id>/", views.task_detail, name="task"),
    path("<int:task_id>/assign/", views.task_assign, name="assign"),
]
