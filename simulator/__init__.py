"""The reference simulator of the freefin Public API and the Arzan Pay Kaspi Pay API."""
