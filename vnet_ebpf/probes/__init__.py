"""The only layer that touches BCC: load, attach, read maps, detach.

Everything above it (model, views, cli) works on plain dataclasses and runs on a
host without BCC, root or the driver.
"""
