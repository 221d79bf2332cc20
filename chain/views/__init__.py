"""Browser pages of the ledger: home, accounts, wallet, explorer. Thin: parse, authorise, call, render."""
