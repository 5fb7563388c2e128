"""Importers: other formats brought in as apirun specs (``apirun import ...``)."""
