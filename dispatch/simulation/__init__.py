"""A synthetic county's history (`hotline simulate`), made through the domain itself; a tool,
not part of the domain's path."""
