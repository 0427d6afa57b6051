"""The decision engine's pure kernel: JDM policies (parse, validate, compile, evaluate with zen-engine), limit
and risk-based price, the approval authority matrix, a single-application scorer, replay (simulation) and the
policy life-cycle. No Django here (import-linter enforces it): everything is tested on plain values and the
benchmark runs it without a database.
"""
