"""scd_trigger_spec: git providers, signatures, events and trigger spec matching."""
