"""Risk monitoring: key risk indicators over the loan book, applications and the credit plan, computed daily after
the close from kept snapshots; portfolio analytics; model monitoring in production; alerts."""
