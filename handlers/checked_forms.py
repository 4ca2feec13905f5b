"""Forms that may open only after a check Slack has to answer (is the presser in the team's channel?).

Slack lets a button's trigger_id open a view for 3 seconds, and conversations.members can take
longer (a large channel is read page by page, and Slack can be slow). So such a form opens at once
as a "checking" modal, and when the check has answered, views.update (which has no time limit)
puts the form, or the refusal, in its place. Whoever teams.yml already decides for gets the form
directly (the callers see to that).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.blocks.notices import checking_modal, notice_modal
from bot.context import AppContext
from bot.delivery import AUTH_ERRORS, DeliveryError
from handlers.commands import slack_busy_text

log = logging.getLogger(__name__)

# views.update refused as busy is tried once more after Slack's Retry-After, waiting at most this long.
MAX_RETRY_WAIT_SECONDS = 5.0
# views.update errors that mean the modal is no longer the one we opened: the person closed it, or
# something else replaced it (a hash we sent no longer matches). Nothing to tell anyone.
MODAL_GONE = frozenset({"not_found", "hash_conflict"})


def open_form_after_check(ctx: AppContext, trigger_id: str, *, title: str, team: str,
                          form_or_refusal: Callable[[], dict | str],
                          tell_busy: Callable[[str], None]) -> dict | None:
    """Open a "checking" modal now, then replace it with ``form_or_refusal()``: a view, or the text
    of a refusal (shown in the modal; the caller audits it). Returns the form as Slack holds it
    (its ``id`` and ``hash``, to update it further) when it replaced "checking", else None.

    When Slack cannot open even the checking modal (busy), ``tell_busy`` tells the person and
    nothing else happens. A check that fails is told in the modal: Slack busy (try again), or a
    lasting failure (a missing scope, a channel the bot cannot read), which is logged as an error.
    An unexpected error is told in the modal too, then raised. A modal the person closed meanwhile
    is not an error.
    """
    try:
        opened = ctx.delivery.open_view(trigger_id, checking_modal(title, team))
    except DeliveryError as error:
        if not error.transient:
            raise
        tell_busy(slack_busy_text("open the form", error))
        return None
    view_id = opened["view"]["id"]
    try:
        result = form_or_refusal()
    except DeliveryError as error:
        result = members_check_failed_text(team, error)
    except Exception:
        _replace_view(ctx, view_id, notice_modal(
            title, ":warning: costbot could not open this form (the error is in its log). Nothing was changed."))
        raise
    if isinstance(result, dict):
        return _replace_view(ctx, view_id, result)
    _replace_view(ctx, view_id, notice_modal(title, result))
    return None


def members_check_failed_text(team: str, error: DeliveryError) -> str:
    """What the person reads when the lookup of ``team``'s channel members failed: try again (Slack
    busy), or what an admin must fix (a lasting failure, logged as an error)."""
    if _slack_busy(error):
        log.warning("members of the channel of %s not read: %s", team, error)
        return slack_busy_text(f"check that you are on {team}", error)
    # A scope the app lacks or a channel it cannot read: trying again will not help.
    log.error("members of the channel of %s cannot be read: %s", team, error)
    return (f":warning: costbot cannot read who is in the channel of *{team}* (`{error.error}`), so it cannot "
            "tell whether you are on the team. An admin can check that the app is in that channel and has "
            "its scopes; teams.yml can also list you as a member. Nothing was changed.")


def _replace_view(ctx: AppContext, view_id: str, view: dict) -> dict | None:
    """views.update: the view as Slack now holds it, or None when it did not take, logged, not raised.

    - The person closed the modal meanwhile (``not_found``): nothing to do (info).
    - Slack busy: once more after its Retry-After (waiting at most ``MAX_RETRY_WAIT_SECONDS``, so
      the listener's thread is not held long); still busy, the modal stays as it was (warning).
    - Slack refused the view itself (invalid blocks, too large, a scope the app lacks): a fault to
      fix on our side (error), and a notice takes the modal's place so the person is not left on
      "checking".
    """
    for attempt in (1, 2):
        try:
            return ctx.delivery.update_view(view_id, view).get("view") or {"id": view_id}
        except DeliveryError as error:
            if error.error in MODAL_GONE:
                log.info("view %s not updated: %s (the modal was closed or changed meanwhile)", view_id, error)
                return None
            busy = _slack_busy(error)
            if busy and attempt == 1:
                time.sleep(min(error.retry_after or 1.0, MAX_RETRY_WAIT_SECONDS))
                continue
            if busy:
                log.warning("view %s not updated, Slack still busy after a retry: %s", view_id, error)
                return None
            log.error("view %s refused by Slack: %s", view_id, error)
            _tell_refused_view(ctx, view_id, view)
            return None
    return None


def _slack_busy(error: DeliveryError) -> bool:
    """Trying again later may succeed (delivery also counts a bad token or scope as transient, for
    messages that wait until an operator fixes it; a person at a modal should hear what to fix)."""
    return error.transient and error.error not in AUTH_ERRORS


def _tell_refused_view(ctx: AppContext, view_id: str, refused: dict) -> None:
    """Put a short notice where a view Slack refused should have gone (once: a notice is not retried)."""
    title = str((refused.get("title") or {}).get("text") or "costbot")
    notice = notice_modal(title, ":warning: costbot could not show this form: Slack refused it (the error is in "
                                 "costbot's log). Nothing was changed.")
    if refused == notice:
        return
    try:
        ctx.delivery.update_view(view_id, notice)
    except DeliveryError as error:
        log.warning("view %s: not even the notice was shown: %s", view_id, error)
