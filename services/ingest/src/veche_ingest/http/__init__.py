"""Ingest's HTTP side: the appeals API, channel endpoints and Open311 GeoReport v2."""

from .app import BodySizeLimit, create_api

__all__ = ["BodySizeLimit", "create_api"]
