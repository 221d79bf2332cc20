import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")

app = Celery("gridtokenx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _tune_gc(**kwargs) -> None:
    from gridtokenx_site.gc_tuning import tune_gc

    tune_gc()
