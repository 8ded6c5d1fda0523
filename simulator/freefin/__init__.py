"""The freefin Public API: payments, refunds, SBP payouts, the bank directory and SSE events."""
