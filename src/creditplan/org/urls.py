"""Administration pages (org/views.py), under /org/: Django's /admin/ stays for developers."""

from django.urls import path

from creditplan.org import views

app_name = "org"
urlpatterns = [
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/", views.user_detail, name="user"),
    path("users/<int:user_id>/status/", views.user_status, name="user_status"),
    path("users/<int:user_id>/password/", views.user_reset_password, name="user_password"),
    path("roles/", views.roles, name="roles"),
    path("branches/", views.branches, name="branches"),
    path("branches/<str:code>/", views.branch_detail, name="branch"),
    path("branches/<str:code>/move/", views.branch_move, name="branch_move"),
    path("branches/<str:code>/close/", views.branch_close, name="branch_close"),
    path("branches/<str:code>/reopen/", views.branch_reopen, name="branch_reopen"),
    path("password/", views.password, name="password"),
]
