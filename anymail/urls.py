"""Anymail's webhook urls: add ``path("anymail/", include("anymail.urls"))`` to your urlconf.

Each url is ``<esp>/tracking/`` or ``<esp>/inbound/`` (Mandrill: one ``mandrill/`` url for
both). ESP webhook modules import their optional packages (boto3, sparkpost) only when used, so
these urls load without them installed.
"""

from __future__ import annotations

from django.urls import path

from .webhooks.amazon_ses import AmazonSESInboundWebhookView, AmazonSESTrackingWebhookView
from .webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView
from .webhooks.mailjet import MailjetInboundWebhookView, MailjetTrackingWebhookView
from .webhooks.mandrill import MandrillCombinedWebhookView, MandrillTrackingWebhookView
from .webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from .webhooks.sendgrid import SendGridInboundWebhookView, SendGridTrackingWebhookView
from .webhooks.sendinblue import SendinBlueTrackingWebhookView
from .webhooks.sparkpost import SparkPostInboundWebhookView, SparkPostTrackingWebhookView

urlpatterns = [
    path(
        "amazon_ses/inbound/",
        AmazonSESInboundWebhookView.as_view(),
        name="amazon_ses_inbound_webhook",
    ),
    path(
        "amazon_ses/tracking/",
        AmazonSESTrackingWebhookView.as_view(),
        name="amazon_ses_tracking_webhook",
    ),
    path("mailgun/inbound/", MailgunInboundWebhookView.as_view(), name="mailgun_inbound_webhook"),
    # The url tells Mailgun to forward raw MIME (rather than parsed fields); one view takes both
    path(
        "mailgun/inbound_mime/",
        MailgunInboundWebhookView.as_view(),
        name="mailgun_inbound_webhook_mime",
    ),
    path(
        "mailgun/tracking/", MailgunTrackingWebhookView.as_view(), name="mailgun_tracking_webhook"
    ),
    path("mailjet/inbound/", MailjetInboundWebhookView.as_view(), name="mailjet_inbound_webhook"),
    path(
        "mailjet/tracking/", MailjetTrackingWebhookView.as_view(), name="mailjet_tracking_webhook"
    ),
    path("mandrill/", MandrillCombinedWebhookView.as_view(), name="mandrill_webhook"),
    # The pre-inbound url (Anymail < 1.3) still works, for tracking and inbound alike
    path(
        "mandrill/tracking/",
        MandrillTrackingWebhookView.as_view(),
        name="mandrill_tracking_webhook",
    ),
    path(
        "postmark/inbound/", PostmarkInboundWebhookView.as_view(), name="postmark_inbound_webhook"
    ),
    path(
        "postmark/tracking/",
        PostmarkTrackingWebhookView.as_view(),
        name="postmark_tracking_webhook",
    ),
    path(
        "sendgrid/inbound/", SendGridInboundWebhookView.as_view(), name="sendgrid_inbound_webhook"
    ),
    path(
        "sendgrid/tracking/",
        SendGridTrackingWebhookView.as_view(),
        name="sendgrid_tracking_webhook",
    ),
    path(
        "sendinblue/tracking/",
        SendinBlueTrackingWebhookView.as_view(),
        name="sendinblue_tracking_webhook",
    ),
    path(
        "sparkpost/inbound/",
        SparkPostInboundWebhookView.as_view(),
        name="sparkpost_inbound_webhook",
    ),
    path(
        "sparkpost/tracking/",
        SparkPostTrackingWebhookView.as_view(),
        name="sparkpost_tracking_webhook",
    ),
]
