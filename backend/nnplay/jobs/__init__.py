"""Jobs: lifecycle, scheduling and limits, and the hub that fans a job's events out."""
