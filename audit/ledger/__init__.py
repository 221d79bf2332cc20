"""The regulator's independent checks: plain deterministic Python over chain.ledger, no Django."""
