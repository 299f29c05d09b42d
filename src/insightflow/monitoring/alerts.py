"""Run alerts: a JSON POST to a webhook (Slack-compatible) and, optionally, an e-mail.

On a failed run (and on success when ``alert_on_success`` is set) one message goes out, with the
run id, the step that failed, the error and a link to the run in the Dagster UI. Sending is best
effort: an unreachable webhook or SMTP server is logged and never fails the run.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from insightflow.lake import RunRecord
    from insightflow.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT = 10.0


@dataclass(frozen=True)
class Alert:
    """The message about one run."""

    text: str
    status: str
    run_id: str
    orchestrator_run_id: str | None
    failed_step: str | None
    error: str | None
    url: str | None
    lake: str
    started_at: str
    seconds: float

    @classmethod
    def of(cls, record: RunRecord, settings: Settings, *, lake: str, failed_step: str | None = None) -> Alert:
        """The message about ``record``, a run of the lake at ``lake`` that stopped at ``failed_step``."""
        run_in_ui = record.orchestrator_run_id
        url = f"{settings.ui_url.rstrip('/')}/runs/{run_in_ui}" if run_in_ui else None
        if record.status == "success":
            text = f"InsightFlow run {record.run_id} succeeded in {record.seconds:.1f} s"
        else:
            text = f"InsightFlow run {record.run_id} failed at step {failed_step or 'start'}: {record.error}"
        if url:
            text += f" ({url})"
        return cls(
            text=text,
            status=record.status,
            run_id=record.run_id,
            orchestrator_run_id=run_in_ui,
            failed_step=failed_step if record.status != "success" else None,
            error=record.error,
            url=url,
            lake=lake,
            started_at=record.started_at.isoformat(),
            seconds=round(record.seconds, 3),
        )


def send_alert(settings: Settings, alert: Alert) -> None:
    """Post ``alert`` to the webhook and e-mail it, as configured; log what could not be sent."""
    if settings.alert_webhook:
        _post(settings.alert_webhook, alert)
    if settings.smtp_host and settings.email_to:
        _mail(settings, alert)


def _post(url: str, alert: Alert) -> None:
    body = json.dumps(asdict(alert)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as problem:
        log.warning("alert webhook not reached: %s", problem)


def _mail(settings: Settings, alert: Alert) -> None:
    message = EmailMessage()
    message["Subject"] = alert.text.split(":")[0][:120]
    message["From"] = settings.email_from
    message["To"] = ", ".join(settings.email_to)
    message.set_content(alert.text + "\n\n" + json.dumps(asdict(alert), indent=2))
    try:
        with smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as problem:
        log.warning("alert e-mail not sent: %s", problem)
