"""Celery reads Django's settings through a source that reads each name once (gridtokenx_site.celery)."""

import pytest
from django.test import override_settings

from gridtokenx_site.celery import DjangoSettingsSource, app


def test_celery_sees_the_sites_settings():
    from django.conf import settings

    assert app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_ignore_result is True


def test_a_name_is_read_once_and_a_missing_one_stays_missing(monkeypatch):
    from django.conf import settings

    source = DjangoSettingsSource()
    misses = []
    real_getattr = type(settings).__getattr__

    def counting_getattr(self, name):
        misses.append(name)
        return real_getattr(self, name)

    monkeypatch.setattr(type(settings), "__getattr__", counting_getattr)
    for _ in range(3):
        with pytest.raises(KeyError):
            source["CELERY_NO_SUCH_SETTING"]
    assert misses.count("CELERY_NO_SUCH_SETTING") == 1

    monkeypatch.setattr(settings, "CELERY_GTX_PROBE", 1, raising=False)
    assert source["CELERY_GTX_PROBE"] == 1
    monkeypatch.setattr(settings, "CELERY_GTX_PROBE", 2)  # no setting_changed: the value read stays
    assert source["CELERY_GTX_PROBE"] == 1
    source.forget()
    assert source["CELERY_GTX_PROBE"] == 2
    assert "CELERY_GTX_PROBE" in set(source)


def test_an_overridden_setting_is_read_again():
    source = DjangoSettingsSource()
    from django.core.signals import setting_changed

    setting_changed.connect(source.forget, weak=False)
    try:
        before = source["CELERY_TASK_DEFAULT_QUEUE"]
        with override_settings(CELERY_TASK_DEFAULT_QUEUE="another-queue"):
            assert source["CELERY_TASK_DEFAULT_QUEUE"] == "another-queue"
        assert source["CELERY_TASK_DEFAULT_QUEUE"] == before
    finally:
        setting_changed.disconnect(source.forget)
