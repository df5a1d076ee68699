"""``kiln.image_uris``, importable as ``sagemaker.image_uris`` is (see ``kiln.sdk.image_uris``)."""

from __future__ import annotations

from kiln.sdk.image_uris import retrieve

__all__ = ["retrieve"]
