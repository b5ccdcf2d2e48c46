"""Anymail's webhook urls: add ``path("anymail/", include("anymail.urls"))`` to your urlconf.

Each url is ``<esp>/tracking/`` or ``<esp>/inbound/``. ESP webhook modules import their optional
packages (boto3, sparkpost) only when used, so these urls load without them installed.
"""

from __future__ import annotations

from django.urls import URLPattern

# ESP webhook urls are added here as each ESP lands, e.g.
#   path("mailgun/tracking/", MailgunTrackingWebhookView.as_view(),
#        name="mailgun_tracking_webhook"),
urlpatterns: list[URLPattern] = []
