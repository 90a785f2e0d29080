"""Block Kit as Slack checks it: the blocks of messages and views, their elements and limits.

Pure functions (moved out of slack_wire.py); `check_blocks` answers what Slack would.

Sources: [sdk] slack_sdk 3.48 models/blocks (blocks.py, block_elements.py, basic_components.py)
and models/views; [doc] docs.slack.dev/reference/block-kit (blocks, block-elements,
composition-objects) and the method pages; [changelog] api.slack.com/changelog.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50  # [doc] blocks: "up to 50 blocks in each message"
MAX_VIEW_BLOCKS = 100  # [doc] "100 blocks in modals or Home tabs"; [sdk] View.blocks_max_length
MAX_SECTION_TEXT = 3000  # [sdk] SectionBlock.text_max_length
MAX_SECTION_FIELDS = 10  # [sdk] SectionBlock.fields_max_length
MAX_FIELD_TEXT = 2000  # [doc] section fields: "Maximum length for the text in each item is 2000"
MAX_HEADER_TEXT = 150  # [sdk] HeaderBlock.text_max_length
MAX_MARKDOWN_TOTAL = 12_000  # [doc] markdown block: cumulative limit per payload
MAX_BLOCK_ID = 255  # [sdk] Block.block_id_max_length
MAX_CONTEXT_ELEMENTS = 10  # [sdk] ContextBlock.elements_max_length
MAX_ACTIONS_ELEMENTS = 25  # [sdk] ActionsBlock.elements_max_length
MAX_IMAGE_URL = 3000  # [sdk] ImageBlock/ImageElement.image_url_max_length
MAX_ALT_TEXT = 2000  # [sdk] ImageBlock.alt_text_max_length
MAX_ACTION_ID = 255  # [sdk] InteractiveElement.action_id_max_length
MAX_BUTTON_TEXT = 75  # [sdk] ButtonElement.text_max_length (plain_text only [doc])
MAX_BUTTON_VALUE = 2000  # [sdk] ButtonElement.value_max_length
MAX_BUTTON_URL = 3000  # [sdk] ButtonElement.url_max_length
MAX_PLACEHOLDER = 150  # [sdk] InputInteractiveElement.placeholder_max_length
MAX_SELECT_OPTIONS = 100  # [sdk] StaticSelectElement.options_max_length (also option_groups)
MAX_OVERFLOW_OPTIONS = 5  # [sdk] OverflowMenuElement.options_max_length (min 1)
MAX_OPTION_TEXT = 75  # [sdk] Option.label_max_length
MAX_OPTION_VALUE = 150  # [sdk] Option.value_max_length
MAX_INPUT_LABEL = 2000  # [sdk] InputBlock.label_max_length (plain_text only [doc])
MAX_INPUT_HINT = 2000  # [sdk] InputBlock.hint_max_length (plain_text only [doc])
# [doc] plain_text_input: "min_length ... Maximum value is 3000"; the same cap on max_length
# is a guess (the docs give none).
MAX_TEXT_INPUT_LENGTH = 3000
# chat.postMessage truncates longer `text` and warns (changelog 2018-04 "truncating really
# long messages"). chat.update and chat.postEphemeral document msg_too_long but no truncation,
# so the emulator refuses there: stricter than Slack may be, never looser.
MAX_MESSAGE_TEXT = 40_000

KNOWN_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
    "table",
    "context_actions",
    "call",
}

# [doc] input block: "element: A plain-text input element, a checkbox element, a radio button
# element, a select menu element, a multi-select menu element, or a datepicker"; the others
# listed are the input elements of docs.slack.dev/reference/block-kit/block-elements.
INPUT_ELEMENT_TYPES = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
    "checkboxes",
    "radio_buttons",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
}


def schema_error(pointer: str, detail: str | None = None) -> list[str]:
    errors = [f"failed to match all allowed schemas [json-pointer:{pointer}]"]
    if detail:
        errors.append(detail)
    return errors


def text_object_errors(
    obj: Any, pointer: str, *, max_len: int, plain_only: bool = False
) -> list[str]:
    allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    if not isinstance(obj, dict) or obj.get("type") not in allowed:
        return schema_error(pointer)
    text = obj.get("text")
    if not isinstance(text, str):
        return schema_error(pointer, f"must provide a string [json-pointer:{pointer}/text]")
    if not text:
        return schema_error(
            pointer, f"must be more than 0 characters [json-pointer:{pointer}/text]"
        )
    if len(text) > max_len:
        return schema_error(
            pointer, f"must be less than {max_len + 1} characters [json-pointer:{pointer}/text]"
        )
    return []


def max_len_errors(obj: dict[str, Any], key: str, limit: int, pointer: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, str) or len(value) > limit:
        return schema_error(
            pointer, f"must be less than {limit + 1} characters [json-pointer:{pointer}/{key}]"
        )
    return []


def _option_errors(options: Any, pointer: str, *, low: int, high: int) -> list[str]:
    if not isinstance(options, list) or not low <= len(options) <= high:
        return schema_error(
            f"{pointer}/options",
            f"must have between {low} and {high} items [json-pointer:{pointer}/options]",
        )
    errors: list[str] = []
    for i, option in enumerate(options):
        at = f"{pointer}/options/{i}"
        if not isinstance(option, dict):
            errors += schema_error(at)
            continue
        errors += text_object_errors(
            option.get("text"), f"{at}/text", max_len=MAX_OPTION_TEXT, plain_only=True
        )
        if not isinstance(option.get("value"), str):
            errors += schema_error(f"{at}/value")
        else:
            errors += max_len_errors(option, "value", MAX_OPTION_VALUE, at)
    return errors


def _text_input_errors(element: dict[str, Any], pointer: str) -> list[str]:
    errors: list[str] = []
    bounds = {}
    for key, low in (("min_length", 0), ("max_length", 1)):
        value = element.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            errors += schema_error(f"{pointer}/{key}")
        elif not low <= value <= MAX_TEXT_INPUT_LENGTH:
            errors.append(
                f"must be between {low} and {MAX_TEXT_INPUT_LENGTH} [json-pointer:{pointer}/{key}]"
            )
        else:
            bounds[key] = value
    if bounds.get("min_length", 0) > bounds.get("max_length", MAX_TEXT_INPUT_LENGTH):
        # [guess] Slack's answer to min_length > max_length is not recorded; refused here.
        errors.append(f"min_length is more than max_length [json-pointer:{pointer}/min_length]")
    if "initial_value" in element and not isinstance(element["initial_value"], str):
        errors += schema_error(f"{pointer}/initial_value")
    return errors


def _element_errors(element: Any, pointer: str, action_ids: set[str]) -> list[str]:
    """Interactive elements (buttons, menus, inputs) in actions, section accessories, inputs."""
    if not isinstance(element, dict):
        return schema_error(pointer)
    errors: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None:
        errors += max_len_errors(element, "action_id", MAX_ACTION_ID, pointer)
        if action_id in action_ids:
            # [doc] action_id "should be unique among all other action_ids in the containing
            # block"; Slack's own answer to a duplicate (in a block, or in two blocks of one
            # message) is not recorded: refused here [guess].
            errors.append(f"duplicate action_id [json-pointer:{pointer}/action_id]")
        action_ids.add(str(action_id))
    kind = element.get("type")
    if kind == "button":
        errors += text_object_errors(
            element.get("text"), f"{pointer}/text", max_len=MAX_BUTTON_TEXT, plain_only=True
        )
        errors += max_len_errors(element, "value", MAX_BUTTON_VALUE, pointer)
        errors += max_len_errors(element, "url", MAX_BUTTON_URL, pointer)
    elif kind in ("static_select", "multi_static_select", "overflow"):
        if kind == "overflow":
            errors += _option_errors(
                element.get("options"), pointer, low=1, high=MAX_OVERFLOW_OPTIONS
            )
        elif "option_groups" in element:
            groups = element["option_groups"]
            if not isinstance(groups, list) or not 1 <= len(groups) <= MAX_SELECT_OPTIONS:
                errors += schema_error(f"{pointer}/option_groups")
        else:
            options = element.get("options")
            errors += _option_errors(options, pointer, low=1, high=MAX_SELECT_OPTIONS)
            initial = element.get("initial_option")
            if initial is not None and isinstance(options, list) and initial not in options:
                # [doc] initial_option: "A single option that exactly matches one of the
                # options within options or option_groups".
                errors += schema_error(f"{pointer}/initial_option")
    elif kind == "plain_text_input":
        errors += _text_input_errors(element, pointer)
    elif kind == "users_select" and not isinstance(element.get("initial_user", ""), str):
        errors += schema_error(f"{pointer}/initial_user")
    if "placeholder" in element:
        errors += text_object_errors(
            element["placeholder"],
            f"{pointer}/placeholder",
            max_len=MAX_PLACEHOLDER,
            plain_only=True,
        )
    return errors


def _input_block_errors(block: dict[str, Any], pointer: str, action_ids: set[str]) -> list[str]:
    errors = text_object_errors(
        block.get("label"), f"{pointer}/label", max_len=MAX_INPUT_LABEL, plain_only=True
    )
    if "hint" in block:
        errors += text_object_errors(
            block["hint"], f"{pointer}/hint", max_len=MAX_INPUT_HINT, plain_only=True
        )
    if "optional" in block and not isinstance(block["optional"], bool):
        errors += schema_error(f"{pointer}/optional")
    element = block.get("element")
    at = f"{pointer}/element"
    if not isinstance(element, dict) or element.get("type") not in INPUT_ELEMENT_TYPES:
        return errors + schema_error(at)
    if not element.get("action_id"):
        # Stricter than Slack, which fills in a random action_id (the "maBWU" in bolt-python's
        # view_submission fixture): an app could not find that value in view.state [policy].
        errors.append(f"missing required field: action_id [json-pointer:{at}/action_id]")
    return errors + _element_errors(element, at, action_ids)


def _block_errors(block: Any, pointer: str, action_ids: set[str]) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCK_TYPES:
        return schema_error(pointer)
    kind = block["type"]
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > MAX_BLOCK_ID):
        return schema_error(
            pointer, f"must be less than 256 characters [json-pointer:{pointer}/block_id]"
        )
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return schema_error(pointer, f"must provide text or fields [json-pointer:{pointer}]")
        errors: list[str] = []
        if "text" in block:
            errors += text_object_errors(block["text"], f"{pointer}/text", max_len=MAX_SECTION_TEXT)
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") != "image":
            errors += _element_errors(accessory, f"{pointer}/accessory", action_ids)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not fields or len(fields) > MAX_SECTION_FIELDS:
                errors += schema_error(f"{pointer}/fields")
            else:
                for i, f in enumerate(fields):
                    errors += text_object_errors(f, f"{pointer}/fields/{i}", max_len=MAX_FIELD_TEXT)
        return errors
    if kind == "header":
        return text_object_errors(
            block.get("text"), f"{pointer}/text", max_len=MAX_HEADER_TEXT, plain_only=True
        )
    if kind == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or not text:
            return schema_error(f"{pointer}/text")
        return []
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            return schema_error(f"{pointer}/elements")
        errors = []
        for i, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") == "image":
                continue
            errors += text_object_errors(el, f"{pointer}/elements/{i}", max_len=MAX_SECTION_TEXT)
        return errors
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            return schema_error(f"{pointer}/elements")
        errors = []
        for i, element in enumerate(elements):
            errors += _element_errors(element, f"{pointer}/elements/{i}", action_ids)
        return errors
    if kind == "input":
        return _input_block_errors(block, pointer, action_ids)
    if kind == "rich_text":
        if not isinstance(block.get("elements"), list):
            return schema_error(f"{pointer}/elements")
        return []
    if kind == "image":
        has_source = isinstance(block.get("image_url"), str) or isinstance(
            block.get("slack_file"), dict
        )
        if not has_source or not isinstance(block.get("alt_text"), str):
            return schema_error(pointer)
        return max_len_errors(block, "alt_text", MAX_ALT_TEXT, pointer) + max_len_errors(
            block, "image_url", MAX_IMAGE_URL, pointer
        )
    return []


def check_blocks(
    blocks: Any,
    *,
    max_blocks: int = MAX_BLOCKS,
    root: str = "",
    action_ids_per_message: bool = True,
) -> tuple[str, list[str]] | None:
    """None if Slack would accept `blocks`, else (error code, response_metadata.messages).

    `max_blocks`: 50 in a message, 100 in a view (MAX_VIEW_BLOCKS). `root`: where the blocks
    sit in the request, for the json-pointers ("/view" in views). `action_ids_per_message`:
    an action_id may appear once in the whole message (else once per block, as in views,
    whose state is keyed by block_id then action_id).
    """
    if not isinstance(blocks, list):
        return "invalid_blocks_format", [f"[ERROR] must be an array [json-pointer:{root}/blocks]"]
    if len(blocks) > max_blocks:
        return "invalid_blocks", [
            f"[ERROR] no more than {max_blocks} items allowed [json-pointer:{root}/blocks]"
        ]
    errors: list[str] = []
    seen_ids: set[str] = set()
    message_action_ids: set[str] = set()
    markdown_total = 0
    for i, block in enumerate(blocks):
        action_ids = message_action_ids if action_ids_per_message else set()
        errors += _block_errors(block, f"{root}/blocks/{i}", action_ids)
        if isinstance(block, dict):
            block_id = block.get("block_id")
            if isinstance(block_id, str) and block.get("type") != "markdown":
                if block_id in seen_ids:
                    errors.append(f"duplicate block_id [json-pointer:{root}/blocks/{i}/block_id]")
                seen_ids.add(block_id)
            if block.get("type") == "markdown" and isinstance(block.get("text"), str):
                markdown_total += len(block["text"])
    if errors:
        return "invalid_blocks", [f"[ERROR] {e}" for e in errors]
    if markdown_total > MAX_MARKDOWN_TOTAL:
        return "msg_blocks_too_long", [
            f"[ERROR] markdown blocks total {markdown_total} characters; "
            f"the limit is {MAX_MARKDOWN_TOTAL}"
        ]
    return None


def find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict, dict] | None:
    """(block, element) of the interactive element with `action_id` in `blocks`, if any."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block, element
    return None
