"""Governance pages (/governance/) and validator administration pages (/validators/)."""
