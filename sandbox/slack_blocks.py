"""Block Kit checks for message blocks, with Slack's limits and Slack's error wording.

Pure: a list of blocks in, a list of ``[ERROR] ... [json-pointer:/blocks/...]`` messages out,
the same shape Slack puts in ``response_metadata.messages`` next to ``invalid_blocks``. The
limits are Slack's documented ones (docs.slack.dev/reference/block-kit): 50 blocks per message,
section text 3000 and fields 10 x 2000, header 150, markdown block 12000, button text 75 and
value 2000, URLs 3000, action_id and block_id 255, 25 elements in an actions block, 10 in a
context block. block_id must be unique within a message, action_id within its block.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MESSAGE_BLOCKS_MAX = 50
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
MARKDOWN_BLOCK_TEXT_MAX = 12000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
IMAGE_ALT_TEXT_MAX = 2000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
OVERFLOW_OPTIONS_MAX = 5
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
INPUT_LABEL_MAX = 2000

TEXT_TYPES = ("plain_text", "mrkdwn")
KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_SELECTS_WITH_OPTIONS = ("static_select", "multi_static_select", "checkboxes", "radio_buttons")


class _Checker:
    """Collects error messages while walking one message's blocks."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    def fail(self, pointer: str, what: str) -> None:
        self.errors.append(f"[ERROR] {what} [json-pointer:{pointer}]")

    def string(
        self, value: Any, pointer: str, *, max_len: int, min_len: int = 0, required: bool = True
    ) -> None:
        if value is None:
            if required:
                self.fail(pointer, "missing required field")
            return
        if not isinstance(value, str):
            self.fail(pointer, "must provide a string")
        elif len(value) > max_len:
            self.fail(pointer, f"must be less than {max_len + 1} characters")
        elif len(value) < min_len:
            self.fail(pointer, f"must be more than {min_len - 1} characters")

    def text(
        self,
        obj: Any,
        pointer: str,
        *,
        max_len: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.fail(pointer, "missing required field")
            return
        if not isinstance(obj, dict):
            self.fail(pointer, "must provide an object")
            return
        allowed = ("plain_text",) if plain_only else TEXT_TYPES
        if obj.get("type") not in allowed:
            self.fail(f"{pointer}/type", f"must be one of {', '.join(allowed)}")
        self.string(obj.get("text"), f"{pointer}/text", max_len=max_len, min_len=1)

    def block_id(self, block: dict[str, Any], pointer: str) -> None:
        value = block.get("block_id")
        if value is None:
            return
        self.string(value, f"{pointer}/block_id", max_len=ID_MAX, min_len=1)
        if isinstance(value, str):
            if value in self.block_ids:
                self.fail(f"{pointer}/block_id", f"duplicate block_id {value!r}")
            self.block_ids.add(value)

    def confirm(self, obj: Any, pointer: str) -> None:
        if obj is None:
            return
        if not isinstance(obj, dict):
            self.fail(pointer, "must provide an object")
            return
        self.text(obj.get("title"), f"{pointer}/title", max_len=CONFIRM_TITLE_MAX, plain_only=True)
        self.text(obj.get("text"), f"{pointer}/text", max_len=CONFIRM_TEXT_MAX)
        for key in ("confirm", "deny"):
            self.text(
                obj.get(key),
                f"{pointer}/{key}",
                max_len=CONFIRM_BUTTON_MAX,
                plain_only=True,
            )

    def options(self, options: Any, pointer: str, *, min_items: int, max_items: int) -> None:
        if not isinstance(options, list):
            self.fail(pointer, "must provide an array")
            return
        if len(options) > max_items:
            self.fail(pointer, f"no more than {max_items} items allowed")
        elif len(options) < min_items:
            self.fail(pointer, f"must provide at least {min_items} items")
        for i, option in enumerate(options):
            where = f"{pointer}/{i}"
            if not isinstance(option, dict):
                self.fail(where, "must provide an object")
                continue
            self.text(option.get("text"), f"{where}/text", max_len=OPTION_TEXT_MAX)
            self.string(option.get("value"), f"{where}/value", max_len=OPTION_VALUE_MAX)
            self.string(option.get("url"), f"{where}/url", max_len=URL_MAX, required=False)

    def element(self, el: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            self.fail(pointer, "must provide an object with a type")
            return
        kind = el["type"]
        action_id = el.get("action_id")
        if action_id is not None:
            self.string(action_id, f"{pointer}/action_id", max_len=ID_MAX, min_len=1)
            if isinstance(action_id, str):
                if action_id in action_ids:
                    self.fail(f"{pointer}/action_id", f"duplicate action_id {action_id!r}")
                action_ids.add(action_id)
        self.confirm(el.get("confirm"), f"{pointer}/confirm")
        if kind == "button":
            self.text(el.get("text"), f"{pointer}/text", max_len=BUTTON_TEXT_MAX, plain_only=True)
            self.string(
                el.get("value"), f"{pointer}/value", max_len=BUTTON_VALUE_MAX, required=False
            )
            self.string(el.get("url"), f"{pointer}/url", max_len=URL_MAX, required=False)
            style = el.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.fail(f"{pointer}/style", "must be one of primary, danger")
        elif kind == "overflow":
            self.options(
                el.get("options"), f"{pointer}/options", min_items=1, max_items=OVERFLOW_OPTIONS_MAX
            )
        elif kind in _SELECTS_WITH_OPTIONS and "option_groups" not in el:
            self.options(
                el.get("options"), f"{pointer}/options", min_items=1, max_items=SELECT_OPTIONS_MAX
            )
        elif kind == "image":
            self.image_source(el, pointer)

    def image_source(self, obj: dict[str, Any], pointer: str) -> None:
        if "slack_file" not in obj:
            self.string(obj.get("image_url"), f"{pointer}/image_url", max_len=URL_MAX, min_len=1)
        self.string(obj.get("alt_text"), f"{pointer}/alt_text", max_len=IMAGE_ALT_TEXT_MAX)

    def elements(self, value: Any, pointer: str, *, max_items: int) -> list[Any]:
        if not isinstance(value, list):
            self.fail(pointer, "must provide an array")
            return []
        if not value:
            self.fail(pointer, "must provide at least 1 items")
        if len(value) > max_items:
            self.fail(pointer, f"no more than {max_items} items allowed")
        return value

    def block(self, block: dict[str, Any], pointer: str) -> None:
        kind = block["type"]
        if kind not in KNOWN_BLOCK_TYPES:
            self.fail(f"{pointer}/type", f"unsupported type: {kind}")
            return
        self.block_id(block, pointer)
        if kind == "section":
            self.section(block, pointer)
        elif kind == "header":
            self.text(
                block.get("text"), f"{pointer}/text", max_len=HEADER_TEXT_MAX, plain_only=True
            )
        elif kind == "actions":
            ids: set[str] = set()
            elements = self.elements(
                block.get("elements"), f"{pointer}/elements", max_items=ACTIONS_ELEMENTS_MAX
            )
            for i, el in enumerate(elements):
                self.element(el, f"{pointer}/elements/{i}", ids)
        elif kind == "context":
            elements = self.elements(
                block.get("elements"), f"{pointer}/elements", max_items=CONTEXT_ELEMENTS_MAX
            )
            for i, el in enumerate(elements):
                where = f"{pointer}/elements/{i}"
                if isinstance(el, dict) and el.get("type") == "image":
                    self.image_source(el, where)
                else:
                    self.text(el, where, max_len=SECTION_TEXT_MAX)
        elif kind == "image":
            self.image_source(block, pointer)
            self.text(block.get("title"), f"{pointer}/title", max_len=2000, required=False)
        elif kind == "markdown":
            self.string(block.get("text"), f"{pointer}/text", max_len=MARKDOWN_BLOCK_TEXT_MAX)
        elif kind == "rich_text":
            self.elements(block.get("elements"), f"{pointer}/elements", max_items=10_000)
        elif kind == "input":
            self.text(block.get("label"), f"{pointer}/label", max_len=INPUT_LABEL_MAX)
            self.element(block.get("element"), f"{pointer}/element", set())

    def section(self, block: dict[str, Any], pointer: str) -> None:
        text = block.get("text")
        fields = block.get("fields")
        if text is None and fields is None:
            self.fail(pointer, "must provide either text or fields")
        self.text(text, f"{pointer}/text", max_len=SECTION_TEXT_MAX, required=False)
        if fields is not None:
            if not isinstance(fields, list):
                self.fail(f"{pointer}/fields", "must provide an array")
            else:
                if len(fields) > SECTION_FIELDS_MAX:
                    self.fail(
                        f"{pointer}/fields", f"no more than {SECTION_FIELDS_MAX} items allowed"
                    )
                for i, field in enumerate(fields):
                    self.text(field, f"{pointer}/fields/{i}", max_len=SECTION_FIELD_TEXT_MAX)
        if block.get("accessory") is not None:
            self.element(block["accessory"], f"{pointer}/accessory", set())


def block_errors(
    blocks: list[dict[str, Any]], *, max_blocks: int = MESSAGE_BLOCKS_MAX
) -> list[str]:
    """Every limit or shape violation in a message's blocks (empty when they are valid).

    ``blocks`` must already be a list of objects with a string ``type`` (the caller answers
    ``invalid_blocks_format`` otherwise); whatever breaks Block Kit's rules past that point is
    ``invalid_blocks``.
    """
    checker = _Checker()
    if len(blocks) > max_blocks:
        checker.fail("/blocks", f"no more than {max_blocks} items allowed")
    for i, block in enumerate(blocks):
        checker.block(block, f"/blocks/{i}")
    return checker.errors


def with_generated_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``blocks`` with a block_id on every block and an action_id on every
    interactive element, as Slack fills them in when a message omits them.

    The ids are derived from the content and position, so the same message gets the same ids.
    """
    result: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        copy: dict[str, Any] = json.loads(json.dumps(block))
        digest = hashlib.sha1(json.dumps(block, sort_keys=True).encode()).hexdigest()
        copy.setdefault("block_id", f"{digest[:4]}{index}")
        elements: list[Any] = []
        if copy.get("type") == "actions" and isinstance(copy.get("elements"), list):
            elements = copy["elements"]
        elif copy.get("type") == "section" and isinstance(copy.get("accessory"), dict):
            elements = [copy["accessory"]]
        for position, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") != "image":
                el.setdefault("action_id", f"{digest[4:8]}{index}-{position}")
        result.append(copy)
    return result
