"""Machinery both APIs share: clock, store, idempotency, rate limits, signing, outcomes,
events, webhooks, faults and defects. No Flask here, and nothing from the API packages."""
