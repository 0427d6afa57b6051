"""Decision engine: JDM policies on zen-engine, limits and risk-based prices, approval authority."""
