"""The leaders' figures: metric definitions, their reference computation, the rollups that keep
them fast, emerging hotspots and the periodic lists."""
