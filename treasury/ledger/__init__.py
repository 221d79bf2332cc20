"""The treasury's deterministic core: tokens minted against payments and burnt on cash-out.

Plain Python and integers only, no Django. Defines the kinds (token_mint,
cashout_request, token_burn, cashout_release) and the tables (payments,
cash-outs); protocol/ lists them in the state machine.
"""
