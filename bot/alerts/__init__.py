"""Alert intake: notifications from Alertmanager and other monitors, parsed, recorded once and routed."""
