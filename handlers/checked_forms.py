"""Forms that may open only after a check Slack has to answer (is the presser in the team's channel?).

Slack lets a button's trigger_id open a view for 3 seconds, and conversations.members can take
longer (many pages, a rate limit's Retry-After). So such a form opens at once as a "checking"
modal, and when the check has answered, views.update (which has no time limit) puts the form, or
the refusal, in its place. Whoever the configuration already decides for gets the form directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.blocks.notices import checking_modal, notice_modal
from bot.context import AppContext
from bot.delivery import DeliveryError
from handlers.commands import slack_busy_text

log = logging.getLogger(__name__)


def open_form_after_check(ctx: AppContext, trigger_id: str, *, title: str, team: str,
                          form_or_refusal: Callable[[], dict | str]) -> str | None:
    """Open a "checking" modal now, then replace it with ``form_or_refusal()``: a view, or the text
    of a refusal (shown in the modal; the caller audits it). Returns the view's ID when the form
    replaced it (to update it further), None when a refusal or a failure did.

    Opening the modal may raise DeliveryError (Slack busy): nothing was shown, the caller tells the
    person as it would for the form. A check that fails (Slack busy on the members) or raises is
    told in the modal, so it never stays on "checking"; an unexpected error is raised after that.
    """
    opened = ctx.delivery.open_view(trigger_id, checking_modal(title, team))
    view_id = opened["view"]["id"]
    try:
        result = form_or_refusal()
    except DeliveryError as error:
        log.warning("check for a %r form failed: %s", title, error)
        result = slack_busy_text(f"check that you are on {team}", error)
    except Exception:
        ctx.delivery.update_view(view_id, notice_modal(
            title, ":warning: costbot could not open this form (the error is in its log). Nothing was changed."))
        raise
    if isinstance(result, dict):
        ctx.delivery.update_view(view_id, result)
        return view_id
    ctx.delivery.update_view(view_id, notice_modal(title, result))
    return None
