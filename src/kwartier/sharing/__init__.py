"""Active customers: energy sharing and peer-to-peer sale, settled per quarter hour (seed 002, issue 5).

Modules: ``allocation`` (the keys, Ibis), ``group`` (a group's participants and terms), ``inputs``
(the stateless command's files), ``participation`` (the conditions to take part), ``settlement`` (runs on
the meter-data store, monthly results), ``compare`` (the three keys side by side), ``cli`` (commands).
"""
