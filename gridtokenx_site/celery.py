import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")

app = Celery("gridtokenx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect  # the solo consensus worker, and a pool's parent before it forks
@worker_process_init.connect  # each pool process
def _tune_gc(**kwargs) -> None:
    from gridtokenx_site.gc_tuning import tune_gc

    tune_gc()
