"""`python -m bot` is the `retro` command."""

from bot.cli import main

raise SystemExit(main())
