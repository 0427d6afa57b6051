from django.urls import path

from creditplan.origination import views

app_name = "origination"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.create, name="create"),
    path("apply/", views.apply, name="apply"),
    path("apply/<str:token>/", views.apply_step, name="apply_step"),
    path("analytics/", views.analytics_page, name="analytics"),
    path("<str:ref>/", views.application, name="application"),
    path("<str:ref>/approve/", views.approve, name="approve"),
    path("<str:ref>/decline/", views.decline, name="decline"),
    path("<str:ref>/request-info/", views.request_info, name="request_info"),
    path("<str:ref>/provide-info/", views.provide_info, name="provide_info"),
    path("<str:ref>/withdraw/", views.withdraw, name="withdraw"),
]
