from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "creditplan.customers"
    label = "customers"
    verbose_name = "Customers"
