"""The Arzan Pay Kaspi Pay API: routes -> domain modules (invoices, refunds, ...) -> core."""
