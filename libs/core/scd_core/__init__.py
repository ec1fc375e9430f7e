"""scd_core: models, errors, settings, masking, and the Protocols with their backends."""
