"""Model monitoring pages and the monthly risk report, mounted at /risk/ (src/creditplan/urls.py):

    /risk/models/                 every champion and challenger with its latest week's verdicts
    /risk/models/<version id>/    one version: PSI by week, CSI per feature, approval by grade, cohorts, calibration
    /risk/report/?month=YYYY-MM&lang=zh|en    the monthly risk report (PDF)
"""

from django.urls import path

from creditplan.risk import monitoring_views as views

app_name = "risk_monitoring"
urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/<int:version_id>/", views.model_detail, name="model"),
    path("report/", views.report_pdf, name="report"),
]
