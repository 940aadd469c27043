"""Retro's packaged Jinja2 templates (a team may override any of them with RETRO_TEMPLATES_DIR)."""
