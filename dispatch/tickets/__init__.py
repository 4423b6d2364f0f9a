"""A ticket's handling: the transition table (the one status writer), who may see what,
clocks over the working-day calendar, the sweeps that fire them, attachments, queries and the
read models."""
