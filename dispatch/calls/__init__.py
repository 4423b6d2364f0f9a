"""Calls (DOMAIN.md, "Calls (the phone channel)"): the call centre's events folded into call
records, the missed-call (漏接回拨) queue with its deadlines, agent states, the screen pop and
the call-centre board's figures."""
