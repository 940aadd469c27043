"""Retro's side of the Slack Web API: runners, OAuth installs, Web API operations, App Home, reminder delivery and
its scheduler, and the local stack against the sandbox. The domain modules in `bot` never import from here."""
