"""Anymail's tracking and inbound webhooks live under /anymail/<esp>/tracking/ (or inbound/)."""

from django.urls import include, path

urlpatterns = [
    path("anymail/", include("anymail.urls")),
]
