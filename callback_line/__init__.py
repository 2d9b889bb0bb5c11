"""The call-back number: who calls, about which action, their recorded sighting, the transfer.

- `ivr.callback_flow`: the call-back flow on the shared model (see its docstring).
- `callback_line.caller`: caller identification by number, the candidate running actions,
  the distance of the caller's registered address to the incident, spoken action names.
- `callback_line.recordings`: keeping the audio whatever the disk does: room to record checked
  first, the file assessed (complete, truncated, failed) and moved into `settings.recordings_dir`
  (fsynced) after the Sighting row says where it is, before the caller hears anything more.
- `callback_line.inbox`: the console's sightings inbox (`list_sightings`, `mark_handled`).
"""
