"""An example driftline plug-in (see README.md)."""
