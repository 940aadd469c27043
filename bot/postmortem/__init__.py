"""The incident document, the drafted postmortem, its measures, timeline picture and exported bundle."""
