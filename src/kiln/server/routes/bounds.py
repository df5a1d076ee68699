"""Bounds on the numbers a request may carry, so what passes validation can be stored.

SQLite and PostgreSQL keep integers in 64 bits, and Python's datetime ends with the year 9999: a
larger offset, sequence number or epoch time would pass a bare ``int``/``float`` parameter and then
fail deep inside the database or ``datetime`` as a 500. Declared in the schema, the limit is a 400
that names the field, and the OpenAPI document says what is allowed.
"""

from __future__ import annotations

__all__ = ["MAX_EPOCH_SECONDS", "MAX_ROW_NUMBER"]

MAX_ROW_NUMBER = 2**63 - 1  # the largest 64-bit SQL integer: offsets, sequence and batch numbers
MAX_EPOCH_SECONDS = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second datetime can hold
