"""Builds the example message: the Anymail features an app would typically use, in one place."""

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from anymail.message import AnymailMessage

LOGO_PATH = Path(__file__).resolve().parent / "logo.png"

TEXT_BODY = """\
Hi there,

This message was sent by Anymail's example project. The HTML version shows
a small envelope logo, and there's a CSV file attached.

See what Anymail can do: https://example.com/anymail/
"""

HTML_BODY = """\
<p><img src="cid:{logo_cid}" alt="Envelope logo" width="16" height="16">
Hi there,</p>
<p>This message was sent by Anymail's example project. It shows an inline image
(the envelope above), and there's a CSV file attached.</p>
<p><a href="https://example.com/anymail/">See what Anymail can do</a>.</p>
"""


def build_example_message(
    from_email: str | None,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
) -> AnymailMessage:
    """Return a ready-to-send message; from_email None means settings.DEFAULT_FROM_EMAIL."""
    message = AnymailMessage(
        subject="Welcome to the Anymail example",
        body=TEXT_BODY,
        from_email=from_email,
        to=list(to),
        cc=list(cc),
        bcc=list(bcc),
        reply_to=["Example Support <support@example.com>"],
        # Anymail's additions: ESPs store tags and metadata with the message (and echo them in
        # tracking webhooks), and turn on open and click tracking for this message.
        tags=["welcome"],
        metadata={"user_id": "8675309", "campaign": "example"},
        track_clicks=True,
        track_opens=True,
    )
    # The inline image's Content-ID is what the HTML's <img src="cid:..."> refers to
    logo_cid = message.attach_inline_image_file(str(LOGO_PATH))
    message.attach_alternative(HTML_BODY.format(logo_cid=logo_cid), "text/html")
    message.attach("example-report.csv", example_report_csv(), "text/csv")
    return message


def example_report_csv() -> str:
    """A small CSV made in memory: attachments needn't come from files."""
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow(["feature", "used in this message"])
    for feature in ("html alternative", "inline image", "attachment", "tags", "metadata"):
        writer.writerow([feature, "yes"])
    return output.getvalue()
