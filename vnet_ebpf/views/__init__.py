"""Turning reports into something to read: plain text, NDJSON objects, Rich renderables."""
