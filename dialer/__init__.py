"""The power dialer: turns an action's circle into a call wave and works it to the end.

- `service`: start (freeze texts, plan the wave nearest first in one transaction), end (cancel
  what is queued, outcome message later), progress and the wave-time estimate;
- `states`: the one table of allowed delivery transitions and the function that applies them;
- `events`: provider call events -> transitions, idempotently; `retry`: the retry policy;
- `pacing` (pure): token bucket, channel and prefix caps, fair order by incident priority;
- `quiet_hours` (pure): the local-time window without voice calls;
- `worker`: claims rows atomically and paces them onto a trunk through a `CallBackend`;
  `jobs`: the APScheduler jobs; `cli`: `burgernet dialer run` and `burgernet action ...`;
- `simulator`: the simulated phone network (training mode), `simulated_ivr`: its participants
  walking the real alert flow; `bench`: `burgernet bench dialer`.
The adapters for Asterisk and Twilio live in `dialer.backends`; only `wiring` picks one.
"""
