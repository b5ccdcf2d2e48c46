"""Anymail's webhook urls: add ``path("anymail/", include("anymail.urls"))`` to your urlconf.

Each url is ``<esp>/tracking/`` or ``<esp>/inbound/`` (Mandrill: one ``mandrill/`` url for
both). ESP webhook modules import their optional packages (boto3, sparkpost) only when used, so
these urls load without them installed.
"""

from __future__ import annotations

from django.urls import path
from django.views import View

from .webhooks.amazon_ses import AmazonSESInboundWebhookView, AmazonSESTrackingWebhookView
from .webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView
from .webhooks.mailjet import MailjetInboundWebhookView, MailjetTrackingWebhookView
from .webhooks.mandrill import MandrillCombinedWebhookView, MandrillTrackingWebhookView
from .webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from .webhooks.sendgrid import SendGridInboundWebhookView, SendGridTrackingWebhookView
from .webhooks.sendinblue import SendinBlueTrackingWebhookView
from .webhooks.sparkpost import SparkPostInboundWebhookView, SparkPostTrackingWebhookView

WEBHOOKS: list[tuple[str, type[View], str | None]] = [
    # Tracking first: most calls are tracking events, and Django tries the urls in order
    ("amazon_ses/tracking/", AmazonSESTrackingWebhookView, "amazon_ses_tracking_webhook"),
    ("mailgun/tracking/", MailgunTrackingWebhookView, "mailgun_tracking_webhook"),
    ("mailjet/tracking/", MailjetTrackingWebhookView, "mailjet_tracking_webhook"),
    ("mandrill/", MandrillCombinedWebhookView, "mandrill_webhook"),
    ("postmark/tracking/", PostmarkTrackingWebhookView, "postmark_tracking_webhook"),
    ("sendgrid/tracking/", SendGridTrackingWebhookView, "sendgrid_tracking_webhook"),
    ("sendinblue/tracking/", SendinBlueTrackingWebhookView, "sendinblue_tracking_webhook"),
    ("sparkpost/tracking/", SparkPostTrackingWebhookView, "sparkpost_tracking_webhook"),
    ("amazon_ses/inbound/", AmazonSESInboundWebhookView, "amazon_ses_inbound_webhook"),
    ("mailgun/inbound/", MailgunInboundWebhookView, "mailgun_inbound_webhook"),
    # The url tells Mailgun to forward raw MIME (rather than parsed fields); one view takes both
    ("mailgun/inbound_mime/", MailgunInboundWebhookView, "mailgun_inbound_webhook_mime"),
    ("mailjet/inbound/", MailjetInboundWebhookView, "mailjet_inbound_webhook"),
    ("postmark/inbound/", PostmarkInboundWebhookView, "postmark_inbound_webhook"),
    ("sendgrid/inbound/", SendGridInboundWebhookView, "sendgrid_inbound_webhook"),
    ("sparkpost/inbound/", SparkPostInboundWebhookView, "sparkpost_inbound_webhook"),
    # The pre-inbound url (Anymail < 1.3) still works, for tracking and inbound alike
    ("mandrill/tracking/", MandrillTrackingWebhookView, "mandrill_tracking_webhook"),
]

_views = {view_class: view_class.as_view() for _, view_class, _ in WEBHOOKS}

urlpatterns = [path(route, _views[view_class], name=name) for route, view_class, name in WEBHOOKS]
# Each url also without its final slash. An ESP configured without the slash would otherwise
# meet Django's APPEND_SLASH, which can't redirect a POST (a 500 with DEBUG, a body-less redirect
# without): its events would be lost.
urlpatterns += [path(route.rstrip("/"), _views[view_class]) for route, view_class, _ in WEBHOOKS]
