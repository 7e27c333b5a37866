"""Human handoff: the queue, its state machine and priority rules, and the agent's packet.

- `states`: waiting → assigned → resolved, or callback / abandoned; transfer and release.
- `priority`: severity, tier, escalation risk, mood and waiting time → points.
- `packet`, `transcript`: what the agent reads (summary, mood trend, CRM card, bot steps).
- `schema`, `store`, `agents`: the hub database (handoffs, notes, accounts, sessions).
- `desk`: handing over from the bot (queue or callback, expected wait).
- `canned`, `cli`: the brand's canned responses; `rapport agent …`.

The hub (`bot.hub`) is the agents' side: console, live feed, hand-back to the bot.
"""
