from django.urls import path

from creditplan.integration import views

app_name = "integration"
urlpatterns = [
    path("", views.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/deactivate/", views.deactivate, name="deactivate"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:delivery_id>/", views.delivery, name="delivery"),
    path("deliveries/<int:delivery_id>/redeliver/", views.redeliver, name="redeliver"),
    path("notifications/", views.my_notifications, name="notifications"),
]
