"""Block Kit to plain text, for the terminal (demo, and any run without a Slack token)."""

from __future__ import annotations

import re

# What the terminal shows for Slack's emoji codes; any other code is dropped.
EMOJI_SYMBOLS = {
    "red_circle": "[alert]",  # a word, like [warning] and [ok]: a bare dot does not say red
    "large_yellow_circle": "[warning]",
    "large_green_circle": "[ok]",
    "arrow_up_small": "▲",
    "arrow_down_small": "▼",
    "arrow_up": "↑",
    "arrow_down": "↓",
    "white_check_mark": "✓",
    "heavy_check_mark": "✓",
    "x": "✗",
    "warning": "!",
    "rotating_light": "!!",
    "no_entry": "⊘",
    "no_entry_sign": "⊘",
    "point_right": "→",
}

# A code span or block (kept as written), a <...> token (link, mention), or an emoji code.
_CODE = re.compile(r"```[\s\S]*?```|`[^`\n]+`")
_ANGLE = re.compile(r"<([^<>\n]+)>")
# Emoji only where Slack reads one: not inside a word or a key like digest:payments:2026-W46.
_EMOJI = re.compile(r"(?<![\w:]):([a-z0-9_+-]*[a-z][a-z0-9_+-]*):(?![\w:])( ?)")
# Bold and italic as Slack reads them: the marker outside a word, hugging non-space text.
_BOLD = re.compile(r"(?<!\w)\*(?=\S)([^*\n]*?\S)\*(?!\w)")
_ITALIC = re.compile(r"(?<!\w)_(?=\S)([^_\n]*?\S)_(?!\w)")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _emoji(match: re.Match[str]) -> str:
    symbol = EMOJI_SYMBOLS.get(match.group(1))
    return symbol + match.group(2) if symbol else ""


def _angle(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target[:1] in "@#!":
        sigil = "#" if target[0] == "#" else "@"
        name = label or target[1:].split("^")[0]
        return name if name[:1] in "@#" else sigil + name
    if not label or label == target:
        return target
    return f"{_prose(label)} ({target})"


def _prose(text: str) -> str:
    """Markup outside code and <...> tokens: emoji codes to symbols, bold and italic markers dropped."""
    text = _EMOJI.sub(_emoji, text)
    text = _BOLD.sub(r"\1", text)
    return _ITALIC.sub(r"\1", text)


def mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn as plain text for a terminal.

    Bold and italic markers go, links become "label (url)", mentions @name, channels #name,
    emoji codes a few plain symbols (EMOJI_SYMBOLS; others dropped), entities are unescaped.
    Code spans keep their text as written.
    """
    out: list[str] = []
    position = 0
    for code in _CODE.finditer(text):
        out.append(_prose_with_tokens(text[position:code.start()]))
        out.append(_ANGLE.sub(_angle, code.group(0)))
        position = code.end()
    out.append(_prose_with_tokens(text[position:]))
    return _unescape("".join(out))


def _prose_with_tokens(text: str) -> str:
    out: list[str] = []
    position = 0
    for token in _ANGLE.finditer(text):
        out.append(_prose(text[position:token.start()]))
        out.append(_angle(token))
        position = token.end()
    out.append(_prose(text[position:]))
    return "".join(out)


def plain_text_to_text(text: str) -> str:
    """A plain_text object: Slack shows it as written, except emoji codes."""
    return _unescape(_EMOJI.sub(_emoji, text))


def _text_of(obj: dict | None) -> str:
    if not obj:
        return ""
    if obj.get("type") == "plain_text":
        return plain_text_to_text(obj.get("text", ""))
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
            lines += ["  " + f.replace("\n", "\n  ") for f in fields]  # a field's every line indented
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
            lines.append(mrkdwn_to_text(fallback))
    return "\n".join(line.rstrip() for line in lines)
