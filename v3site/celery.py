"""The Celery app. Its broker is Redis in the services shape; in the embedded
default settings make tasks run eagerly in-process (see settings.CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "v3site.settings")

app = Celery("v3site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
