"""anymail.message: AnymailMessage, the mixin, send status, and the inline image helpers."""

from __future__ import annotations

import os
import tempfile

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.test import SimpleTestCase

from anymail.attachments import Attachment
from anymail.message import (
    AnymailMessage,
    AnymailMessageMixin,
    AnymailRecipientStatus,
    AnymailStatus,
    attach_inline_image,
    attach_inline_image_file,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 8


class AnymailMessageTests(SimpleTestCase):
    def test_constructor_takes_anymail_attributes(self):
        message = AnymailMessage(
            subject="Welcome",
            body="Welcome to our site",
            to=["New User <user1@example.com>"],
            tags=["Onboarding"],
            metadata={"onboarding_experiment": "variation 1"},
            track_clicks=True,
            template_id="welcome",
            merge_data={"user1@example.com": {"NAME": "New"}},
        )
        self.assertEqual(message.subject, "Welcome")
        self.assertEqual(message.tags, ["Onboarding"])
        self.assertEqual(message.metadata, {"onboarding_experiment": "variation 1"})
        self.assertIs(message.track_clicks, True)
        self.assertEqual(message.template_id, "welcome")
        self.assertEqual(message.merge_data, {"user1@example.com": {"NAME": "New"}})
        self.assertIsInstance(message, EmailMultiAlternatives)

    def test_unset_attributes_stay_unset_so_defaults_apply(self):
        message = AnymailMessage(to=["to@example.com"])
        self.assertFalse(hasattr(message, "tags"))
        self.assertFalse(hasattr(message, "metadata"))

    def test_anymail_status_initialized_empty(self):
        status = AnymailMessage().anymail_status
        self.assertIsInstance(status, AnymailStatus)
        self.assertIsNone(status.message_id)
        self.assertIsNone(status.status)
        self.assertEqual(status.recipients, {})
        self.assertIsNone(status.esp_response)

    def test_plain_email_message_has_no_status_before_sending(self):
        with self.assertRaises(AttributeError):
            EmailMessage().anymail_status  # noqa: B018

    def test_mixin_with_another_email_message_class(self):
        class ThirdPartyMessage(EmailMultiAlternatives):
            def __init__(self, template_name=None, *args, **kwargs):
                self.template_name = template_name
                super().__init__(*args, **kwargs)

        class TemplatedAnymailMessage(AnymailMessageMixin, ThirdPartyMessage):
            pass

        message = TemplatedAnymailMessage(
            template_name="order.tpl", to=["to@example.com"], track_opens=True
        )
        message.tags = ["templated"]
        self.assertEqual(message.template_name, "order.tpl")
        self.assertIs(message.track_opens, True)
        self.assertEqual(message.to, ["to@example.com"])
        self.assertIsInstance(message.anymail_status, AnymailStatus)
        cid = message.attach_inline_image(PNG, "a.png")
        self.assertTrue(cid.endswith("@inline"))


class StatusTests(SimpleTestCase):
    def test_same_id_for_all_recipients_is_a_single_message_id(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {
                "a@example.com": AnymailRecipientStatus("id-1", "sent"),
                "b@example.com": AnymailRecipientStatus("id-1", "queued"),
            }
        )
        self.assertEqual(status.message_id, "id-1")
        self.assertEqual(status.status, {"sent", "queued"})
        self.assertTrue(status.status.issubset({"queued", "sent"}))

    def test_different_ids_make_a_set(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {
                "a@example.com": AnymailRecipientStatus("id-1", "sent"),
                "b@example.com": AnymailRecipientStatus("id-2", "rejected"),
            }
        )
        self.assertEqual(status.message_id, {"id-1", "id-2"})
        self.assertEqual(status.recipients["b@example.com"].message_id, "id-2")

    def test_invalid_status_value_refused(self):
        with self.assertRaisesMessage(ValueError, "'delivered'"):
            AnymailRecipientStatus("id", "delivered")
        for status in ("sent", "queued", "invalid", "rejected", "failed", "unknown"):
            self.assertEqual(AnymailRecipientStatus("id", status).status, status)


class InlineImageTests(SimpleTestCase):
    def test_attach_inline_image_returns_bare_content_id(self):
        message = EmailMultiAlternatives()
        cid = attach_inline_image(message, PNG, "logo.png")
        self.assertNotIn("<", cid)
        self.assertTrue(cid.endswith("@inline"))
        self.assertIn(".img@", cid)
        (part,) = message.attachments
        attachment = Attachment(part)
        self.assertEqual(attachment.cid, cid)
        self.assertTrue(attachment.inline)
        self.assertEqual(attachment.content_disposition, "inline")
        self.assertEqual((attachment.name, attachment.mimetype), ("logo.png", "image/png"))
        self.assertEqual(attachment.content, PNG)

    def test_image_type_detected_from_content(self):
        for content, mimetype in ((PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif")):
            with self.subTest(mimetype=mimetype):
                message = EmailMessage()
                attach_inline_image(message, content)  # no filename
                self.assertEqual(Attachment(message.attachments[0]).mimetype, mimetype)

    def test_explicit_subtype_domain_and_idstring(self):
        message = EmailMessage()
        cid = attach_inline_image(
            message,
            b"not-really-an-image",
            "x.dat",
            subtype="webp",
            idstring="hero",
            domain="example.com",
        )
        self.assertTrue(cid.endswith(".hero@example.com"))
        self.assertEqual(Attachment(message.attachments[0]).mimetype, "image/webp")

    def test_undetectable_type_asks_for_subtype(self):
        with self.assertRaisesMessage(ValueError, "pass subtype="):
            attach_inline_image(EmailMessage(), b"mystery bytes", "file.unknown")

    def test_unique_content_ids(self):
        message = EmailMessage()
        cids = {attach_inline_image(message, PNG) for _ in range(20)}
        self.assertEqual(len(cids), 20)

    def test_attach_inline_image_file_uses_basename(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "picture.jpg")
            with open(path, "wb") as image_file:
                image_file.write(JPEG)
            message = AnymailMessage()
            cid = message.attach_inline_image_file(path)
            cid2 = attach_inline_image_file(message, path, subtype="png")
        first, second = (Attachment(part) for part in message.attachments)
        self.assertEqual(
            (first.name, first.mimetype, first.cid), ("picture.jpg", "image/jpeg", cid)
        )
        self.assertEqual((second.mimetype, second.cid), ("image/png", cid2))

    def test_inline_image_renders_in_django_mime_message(self):
        message = EmailMultiAlternatives("S", "B", "from@example.com", ["to@example.com"])
        cid = attach_inline_image(message, PNG, "logo.png")
        mime = message.message().as_string()
        self.assertIn(f"Content-ID: <{cid}>", mime)
        self.assertIn("Content-Disposition: inline", mime)
