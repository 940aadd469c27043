"""`python -m bot` is the `retro` command."""

from bot.app.cli import main

raise SystemExit(main())
