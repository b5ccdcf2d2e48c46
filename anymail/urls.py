"""Anymail's webhook urls: add ``path("anymail/", include("anymail.urls"))`` to your urlconf.

Each url is ``<esp>/tracking/`` or ``<esp>/inbound/`` (Mandrill: one ``mandrill/`` url for
both). ESP webhook modules import their optional packages (boto3, sparkpost) only when used, so
these urls load without them installed.
"""

from __future__ import annotations

from django.urls import URLPattern, path
from django.views import View

from .webhooks.amazon_ses import AmazonSESInboundWebhookView, AmazonSESTrackingWebhookView
from .webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView
from .webhooks.mailjet import MailjetInboundWebhookView, MailjetTrackingWebhookView
from .webhooks.mandrill import MandrillCombinedWebhookView, MandrillTrackingWebhookView
from .webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from .webhooks.sendgrid import SendGridInboundWebhookView, SendGridTrackingWebhookView
from .webhooks.sendinblue import SendinBlueTrackingWebhookView
from .webhooks.sparkpost import SparkPostInboundWebhookView, SparkPostTrackingWebhookView


def webhook(route: str, view_class: type[View], name: str) -> list[URLPattern]:
    """The url, and the same without its final slash.

    An ESP configured without the slash would otherwise meet Django's APPEND_SLASH, which can't
    redirect a POST (a 500 with DEBUG, a body-less redirect without): its events would be lost.
    """
    view = view_class.as_view()
    return [path(route, view, name=name), path(route.rstrip("/"), view)]


urlpatterns = [
    *webhook("amazon_ses/inbound/", AmazonSESInboundWebhookView, "amazon_ses_inbound_webhook"),
    *webhook("amazon_ses/tracking/", AmazonSESTrackingWebhookView, "amazon_ses_tracking_webhook"),
    *webhook("mailgun/inbound/", MailgunInboundWebhookView, "mailgun_inbound_webhook"),
    # The url tells Mailgun to forward raw MIME (rather than parsed fields); one view takes both
    *webhook("mailgun/inbound_mime/", MailgunInboundWebhookView, "mailgun_inbound_webhook_mime"),
    *webhook("mailgun/tracking/", MailgunTrackingWebhookView, "mailgun_tracking_webhook"),
    *webhook("mailjet/inbound/", MailjetInboundWebhookView, "mailjet_inbound_webhook"),
    *webhook("mailjet/tracking/", MailjetTrackingWebhookView, "mailjet_tracking_webhook"),
    *webhook("mandrill/", MandrillCombinedWebhookView, "mandrill_webhook"),
    # The pre-inbound url (Anymail < 1.3) still works, for tracking and inbound alike
    *webhook("mandrill/tracking/", MandrillTrackingWebhookView, "mandrill_tracking_webhook"),
    *webhook("postmark/inbound/", PostmarkInboundWebhookView, "postmark_inbound_webhook"),
    *webhook("postmark/tracking/", PostmarkTrackingWebhookView, "postmark_tracking_webhook"),
    *webhook("sendgrid/inbound/", SendGridInboundWebhookView, "sendgrid_inbound_webhook"),
    *webhook("sendgrid/tracking/", SendGridTrackingWebhookView, "sendgrid_tracking_webhook"),
    *webhook("sendinblue/tracking/", SendinBlueTrackingWebhookView, "sendinblue_tracking_webhook"),
    *webhook("sparkpost/inbound/", SparkPostInboundWebhookView, "sparkpost_inbound_webhook"),
    *webhook("sparkpost/tracking/", SparkPostTrackingWebhookView, "sparkpost_tracking_webhook"),
]
