"""The supply market (design.md purpose 2): the access register with its full history and the market
processes that change it (supplier switch, move, end of supply, regime change, production installation,
meter exchange), with reservations instead of silent locks (seed 000 §3.1, §4.2, §4.3, §4.5; seed 002).

Layout: :mod:`~kwartier.market.codes` (code lists and deadlines), :mod:`~kwartier.market.messages`
(inbound and outbound messages, their JSON Schemas), :mod:`~kwartier.market.register` (the register as
bitemporal facts), :mod:`~kwartier.market.processes` (the state machines, pure),
:mod:`~kwartier.market.blocks` (the regulator's blocked-access-point figures, pure) and
:mod:`~kwartier.market.service` (the registry I/O around them).
"""
