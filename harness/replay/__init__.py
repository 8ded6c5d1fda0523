"""``paysim replay``: a recorded session (HAR, as ``paysim proxy --record`` writes it) sent again
to another server of the same API, statefully: session (reading the file), mapping (ids, keys,
credentials), runner (sending, in order, with the waits), diff (what differs, normalised by the
target profiles), report (conform's formats)."""
