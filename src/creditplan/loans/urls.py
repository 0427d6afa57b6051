from django.urls import path

from creditplan.loans import change_views, close_views, views

app_name = "loans"
# The fixed paths come before "<ref>/": a loan reference never looks like "calculator" or "close".
urlpatterns = [
    path("", views.loan_list, name="loans"),
    path("calculator/", views.calculator, name="calculator"),
    path("ledger/trial-balance/", close_views.trial_balance, name="trial_balance"),
    path("close/", close_views.close_runs, name="close_runs"),
    path("close/run/", close_views.close_start, name="close_start"),  # issue 20: run the close from its page
    path("close/progress/", close_views.close_progress, name="close_progress"),
    path("close/<str:date>/", close_views.close_run, name="close_run"),
    path("changes/", change_views.changes, name="changes"),  # four-eyes loan changes (issue 18)
    path("changes/<int:pk>/decide/", change_views.decide_change, name="decide_change"),
    path("<str:ref>/", views.loan_detail, name="loan"),
    path("<str:ref>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("<str:ref>/actions/<str:action>/", views.loan_action, name="action"),
]
