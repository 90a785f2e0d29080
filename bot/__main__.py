"""`python -m bot` is the `slack-scribe` command."""

import sys

from bot.cli import main

sys.exit(main())
