"""Network side of the console: AEs, the job history, SCU operations and SCP listeners."""
