"""SCU operations: plain functions over AEs, and the job kinds that wrap them."""
