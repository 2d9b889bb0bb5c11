"""What autogenerate should ignore: tables that migrations create by hand, not the models."""

# SQLite's R*Tree virtual table and its shadow tables (see the participants selection index).
# APScheduler's persistent job store (dialer.jobs) creates and owns `apscheduler_jobs`.
UNMODELLED_TABLE_PREFIXES = ("address_rtree", "apscheduler_jobs")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table" and name and name.startswith(UNMODELLED_TABLE_PREFIXES):
        return False
    return True
