"""The demo: a production-like source and a one-command release of it."""
