"""Origination: applications from every channel, the decision, the review queue and approvals."""
