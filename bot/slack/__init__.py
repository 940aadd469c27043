"""Retro's own side of the Slack Web API, apart from requests: runners, OAuth installs, App Home, channel membership,
reminder delivery and its scheduler, the demo, and the local stack against the sandbox. The domain modules in `bot`
never import from here; the Web API calls around commands and clicks are in `handlers/slackops.py`."""
