"""Notifiers (each one module, listed by :mod:`.registry`), actions and the dispatcher."""
