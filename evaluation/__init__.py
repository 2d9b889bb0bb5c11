"""The pilot's evaluation: figures per period and control room or municipality, and the
aggregates that survive the retention purge of personal data."""
