"""The transports that deliver outbox messages: SMTP for email, an HTTP gateway for SMS.

Email goes through the standard library's ``smtplib`` (a full SMTP client: STARTTLS, TLS,
login); SMS through the chain's gateway, which Regulars reaches with one JSON POST per
message (``{"to": "+86…", "text": "…"}`` and a bearer token), the shape most Chinese SMS
providers' HTTP APIs take behind a small adapter. A refusal that will not change on a
retry (a 5xx SMTP reply to a recipient, a 4xx from the gateway) is *permanent*; anything
else (the network, a busy server) is worth trying again later.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx

from regulars.core.config import Settings

__all__ = [
    "DeliveryError",
    "SmsGateway",
    "SmtpMailer",
    "Transport",
    "transports_from",
]

TIMEOUT_SECONDS = 10.0


class DeliveryError(Exception):
    """A message was not delivered; ``permanent`` says whether to stop trying."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        """Keep the reason (shown to staff) and whether another try could succeed."""
        super().__init__(reason)
        self.permanent = permanent


class Transport(Protocol):
    """Delivers messages of one channel; ``close`` ends any connection it keeps."""

    def send(self, *, recipient: str, subject: str | None, body: str) -> None:
        """Deliver one message or raise ``DeliveryError``."""
        ...

    def close(self) -> None:
        """Release the connection, if one is open."""
        ...


class SmtpMailer:
    """Email through an SMTP server, one connection kept open for a batch."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        security: str = "none",
    ) -> None:
        """Remember where and how to connect; nothing connects until the first send."""
        if security not in ("none", "starttls", "tls"):
            raise ValueError("smtp_security must be none, starttls or tls")
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.security = user, password, security
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            if self.security == "starttls":
                smtp.starttls(context=context)
        if self.user:
            smtp.login(self.user, self.password or "")
        return smtp

    def send(self, *, recipient: str, subject: str | None, body: str) -> None:
        """Send one plain-text UTF-8 email."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject or ""
        message["Message-ID"] = make_msgid(domain="regulars")
        message.set_content(body)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {codes}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:300], permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(f"SMTP: {exc}"[:300], permanent=False) from exc

    def close(self) -> None:
        """Say goodbye to the server (quietly, whatever state the connection is in)."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


class SmsGateway:
    """SMS through the chain's HTTP gateway."""

    def __init__(self, *, url: str, token: str | None = None) -> None:
        """One HTTP client for the batch, with the bearer token if there is one."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self._client = httpx.Client(timeout=TIMEOUT_SECONDS, headers=headers)

    def send(self, *, recipient: str, subject: str | None, body: str) -> None:
        """POST ``{"to", "text"}``; a 2xx answer means the gateway took the message."""
        try:
            answer = self._client.post(self.url, json={"to": recipient, "text": body})
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway: {exc}"[:300], permanent=False) from exc
        if answer.is_success:
            return
        raise DeliveryError(
            f"SMS gateway {answer.status_code}: {answer.text[:200]}",
            permanent=400 <= answer.status_code < 500 and answer.status_code != 429,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def transports_from(settings: Settings) -> dict[str, Transport]:
    """The transports the settings configure, by channel (none: messages wait)."""
    found: dict[str, Transport] = {}
    if settings.smtp_host:
        found["email"] = SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            security=settings.smtp_security,
        )
    if settings.sms_gateway_url:
        found["sms"] = SmsGateway(url=settings.sms_gateway_url, token=settings.sms_gateway_token)
    return found
