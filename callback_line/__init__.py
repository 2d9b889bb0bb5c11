"""The call-back number: who calls, about which action, their recorded sighting, the transfer.

- `ivr.callback_flow`: the call-back flow on the shared model (see its docstring).
- `callback_line.caller`: caller identification by number, the candidate running actions,
  the distance of the caller's registered address to the incident, spoken action names.
- `callback_line.recordings`: keeping the audio whatever the disk does: room to record checked
  first, the file assessed (complete, truncated, failed) and moved into `settings.recordings_dir`
  (fsynced) after the Sighting row says where it is, before the caller hears anything more.
- `callback_line.inbox`: the console's sightings inbox (`list_sightings`, `mark_handled`).
- `callback_line.line_states`: where each call to the line is (ivr, waiting, recording,
  connected, recorded, missed): one transition table, one function that moves a row.
- `callback_line.queue`: the control room's call queue as the platform sees it (position,
  expected wait, the console's board, calls closed when their IVR connection was lost).
- `callback_line.desk_phones` / `callback_line.call_back`: the port to the centralists' desk
  phones, and the console's use cases on it (call a missed caller back; presence).
"""
