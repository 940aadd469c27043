"""After the talking: action items, reminders and their cadence, nudges and prompts."""
