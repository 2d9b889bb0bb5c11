"""The participant registry.

- phones: parse and classify phone numbers (landline, mobile; service numbers refused)
- addresses, windows: postcodes, house numbers and weekly time windows as people write them
- geocoding: one Geocoder interface (direct coordinates, BAG gazetteer, PDOK Locatieserver)
- importer, csv_files: `burgernet participants import` with a per-row report
- demo: `burgernet demo seed`, the Delft demo world
- selection: who to contact inside a circle (the contract: Recipient, select_recipients,
  count_by_channel), through the grid index of spatial_index / spatial_index_pg
- bench: `burgernet bench select`
"""
