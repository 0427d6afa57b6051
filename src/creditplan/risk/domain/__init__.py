"""Risk monitoring's pure kernels: the indicator language, thresholds, portfolio analytics, snapshots, facts."""
