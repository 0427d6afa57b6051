from django.urls import path

from creditplan.plans import capital_views, group_views, period_views, target_views, transfer_views, views

app_name = "plans"
urlpatterns = [
    path("", views.plan_list, name="plans"),
    # customer groups (issue 19 §2): plans/group_views.py
    path("groups/", group_views.group_list, name="groups"),
    path("groups/new/", group_views.group_create, name="group_create"),
    path("groups/import/", group_views.group_import, name="group_import"),
    path("groups/changes/", group_views.group_changes, name="group_changes"),
    path("groups/changes/<int:change_id>/<str:decision>/", group_views.group_change_decide,
         name="group_change_decide"),
    path("groups/changes/file/<str:decision>/", group_views.group_batch_decide, name="group_batch_decide"),
    path("groups/<int:group_id>/", group_views.group_detail, name="group"),
    path("groups/<int:group_id>/propose/<str:kind>/", group_views.group_propose, name="group_propose"),
    path("capital-base/", capital_views.capital_base, name="capital_base"),
    path("capital-base/<int:capital_id>/<str:decision>/", capital_views.capital_base_decide,
         name="capital_base_decide"),
    path("new/", views.plan_create, name="create"),
    path("import/", views.plan_import, name="import"),
    path("<int:plan_id>/", views.plan_detail, name="plan"),
    path("<int:plan_id>/split/", views.plan_split, name="split"),
    path("<int:plan_id>/activate/", views.plan_activate, name="activate"),
    path("<int:plan_id>/export.xlsx", views.plan_export, name="export"),
    path("<int:plan_id>/quotas/<int:quota_id>/", views.quota_explain, name="explain"),
    path("<int:plan_id>/dashboard/", views.dashboard, name="dashboard"),
    path("<int:plan_id>/dashboard/export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("<int:plan_id>/periods/", period_views.plan_periods, name="periods"),
    path("<int:plan_id>/adjustments/", views.adjustments, name="adjustments"),
    path("<int:plan_id>/adjustments/<int:adjustment_id>/<str:decision>/", views.adjustment_decide, name="decide"),
    path("<int:plan_id>/transfers/", transfer_views.transfers, name="transfers"),
    path("<int:plan_id>/transfers/rule/", transfer_views.transfer_rule, name="transfer_rule"),
    path("<int:plan_id>/transfers/<int:transfer_id>/<str:decision>/", transfer_views.transfer_decide,
         name="transfer_decide"),
    path("<int:plan_id>/quotas/<int:quota_id>/freeze/", transfer_views.quota_freeze, name="freeze"),
    # targets and ratio limits (issue 19 §6): plans/target_views.py
    path("<int:plan_id>/targets/", target_views.targets, name="targets"),
    path("<int:plan_id>/targets/template/", target_views.target_template, name="target_template"),
    path("<int:plan_id>/targets/<int:target_id>/remove/", target_views.target_remove, name="target_remove"),
]
