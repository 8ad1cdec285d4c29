"""vnet-trace: BCC probes on the vnet driver, shown as tables, live dashboards or NDJSON."""
