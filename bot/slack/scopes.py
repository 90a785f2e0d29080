"""The bot scopes the code needs: the one list in the code.

manifest.yml asks for exactly these (tests/test_manifest.py checks both ways, and why each
scope is needed is written beside it there); `slack-scribe check` compares what Slack
granted with the manifest, or with this list where no manifest is at hand; the tests'
Slack emulator grants these by default.
"""

BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "reactions:write",
    "users:read",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
)
