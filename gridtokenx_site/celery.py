import os
from collections.abc import Iterator, Mapping

from celery import Celery
from celery.signals import worker_init, worker_process_init
from django.core.signals import setting_changed

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")

_MISSING = object()


class DjangoSettingsSource(Mapping):
    """Django's settings as Celery's configuration source, each name read from them once.

    Celery reads about five settings per task it sends, each under several spellings
    (``CELERY_TASK_X``, ``task_x``, the old name) and in each map in turn; through
    Django's lazy settings object a miss is two ``__getattr__`` calls and an
    AttributeError: about 250 µs of CPU per task sent, more than the publish itself.
    A test that overrides a setting (Django's ``setting_changed``) drops what was read.
    """

    def __init__(self) -> None:
        self._read: dict[str, object] = {}

    def __getitem__(self, name: str):
        try:
            value = self._read[name]
        except KeyError:
            from django.conf import settings

            value = self._read[name] = getattr(settings, name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        from django.conf import settings

        return iter([name for name in dir(settings) if name.isupper()])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def forget(self, **kwargs) -> None:
        self._read.clear()


settings_source = DjangoSettingsSource()
setting_changed.connect(settings_source.forget, weak=False)

app = Celery("gridtokenx")
app.config_from_object(settings_source, namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect  # the solo consensus worker, and a pool's parent before it forks
@worker_process_init.connect  # each pool process
def _tune_gc(**kwargs) -> None:
    from gridtokenx_site.gc_tuning import tune_gc

    tune_gc()
