"""params.yaml: loading and validating every setting before any work."""
