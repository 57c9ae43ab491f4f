"""The data: reading and checking a transaction file (and a survey file), and the per-customer summaries."""
