"""What autogenerate should ignore: tables that migrations create by hand, not the models."""

# The participants selection index on SQLite (participants/spatial_index.py): the grid table
# `selection_grid` (and the R*Tree `address_rtree` of its first version, with shadow tables).
# APScheduler's persistent job store (dialer.jobs) creates and owns `apscheduler_jobs`.
UNMODELLED_TABLE_PREFIXES = ("address_rtree", "selection_grid", "apscheduler_jobs")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and name and name.startswith(UNMODELLED_TABLE_PREFIXES))
