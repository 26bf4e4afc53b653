"""`python -m bot` is `moa-bot`."""

import sys

from bot.app.cli import main

sys.exit(main())
