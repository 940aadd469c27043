"""Wiring: the command line, the app factory, the HTTP server, serving, the local stack and the demo.

The only package that imports `handlers` and `sandbox`."""
