from django.urls import path

from creditplan.plans import views

app_name = "plans"
urlpatterns = [
    path("", views.plan_list, name="plans"),
    path("new/", views.plan_create, name="create"),
    path("import/", views.plan_import, name="import"),
    path("<int:plan_id>/", views.plan_detail, name="plan"),
    path("<int:plan_id>/split/", views.plan_split, name="split"),
    path("<int:plan_id>/activate/", views.plan_activate, name="activate"),
    path("<int:plan_id>/export.xlsx", views.plan_export, name="export"),
    path("<int:plan_id>/quotas/<int:quota_id>/", views.quota_explain, name="explain"),
    path("<int:plan_id>/dashboard/", views.dashboard, name="dashboard"),
    path("<int:plan_id>/dashboard/export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("<int:plan_id>/adjustments/", views.adjustments, name="adjustments"),
    path("<int:plan_id>/adjustments/<int:adjustment_id>/<str:decision>/", views.adjustment_decide, name="decide"),
]
