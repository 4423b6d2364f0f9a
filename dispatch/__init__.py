"""The ticket domain, grouped by the path of a demand: `core` (tables, vocabularies, errors,
ports, commands, settings), `intake` (a demand comes in), `triage` (what it is: classifier and
knowledge base), `tickets` (its handling: the one status writer, access, clocks, sweeps),
`outbound` (what we owe outside parties), `console` (the live feed), `stats` (the leaders'
figures) and `simulation` (a synthetic county made through the domain)."""
