from django.apps import AppConfig


class NetjobsConfig(AppConfig):
    name = "netjobs"
    verbose_name = "Network and jobs"
    default_auto_field = "django.db.models.BigAutoField"
