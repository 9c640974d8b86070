"""The job framework: kinds, the shared runner, and create/cancel/retry services."""
