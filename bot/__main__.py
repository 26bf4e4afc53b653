"""`python -m bot` is `moa-bot`."""

import sys

from bot.cli import main

sys.exit(main())
