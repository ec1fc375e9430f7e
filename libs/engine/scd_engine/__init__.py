"""scd_engine: pipeline spec, expressions, planner and runtime."""
