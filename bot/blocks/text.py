"""Block Kit to plain text, for the terminal (demo, and any run without a Slack token)."""

from __future__ import annotations

import re

_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^>]+)>")
_MENTION = re.compile(r"<[@#!]([^|>]+)(?:\|([^>]+))?>")


def mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn to something readable in a terminal: links and mentions become words."""
    text = _LINK.sub(r"\2 (\1)", text)
    text = _BARE_LINK.sub(r"\1", text)
    text = _MENTION.sub(lambda m: m.group(2) or m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_of(obj: dict | None) -> str:
    if not obj:
        return ""
    return mrkdwn_to_text(obj.get("text", ""))


def _element_text(element: dict) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{_text_of(element.get('text'))}]"
    if kind in ("static_select", "users_select", "conversations_select", "overflow", "datepicker"):
        placeholder = _text_of(element.get("placeholder")) or kind
        return f"[{placeholder} ▾]"
    if kind == "image":
        return f"(image: {element.get('alt_text', '')})"
    if kind in ("mrkdwn", "plain_text"):
        return _text_of(element)
    return ""


def blocks_to_text(blocks: list[dict] | None, fallback: str = "") -> str:
    """One message's blocks as lines of text; the fallback text when there are no blocks."""
    if not blocks:
        return mrkdwn_to_text(fallback)
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text_of(block.get("text"))
            lines += [title.upper(), "=" * min(len(title), 72)]
        elif kind == "section":
            if block.get("text"):
                lines.append(_text_of(block["text"]))
            fields = [_text_of(f) for f in block.get("fields", [])]
            lines += [f"  {f}" for f in fields]
            if block.get("accessory"):
                lines.append("  " + _element_text(block["accessory"]))
        elif kind == "context":
            lines.append("  " + " · ".join(t for t in (_element_text(e) for e in block.get("elements", [])) if t))
        elif kind == "actions":
            lines.append(" ".join(_element_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "image":
            lines.append(f"(chart: {block.get('alt_text', '')})")
        elif kind == "rich_text":
            lines.append(fallback)
    return "\n".join(line.rstrip() for line in lines)
