"""The live console's feed: every committed ticket event as a numbered console event."""
