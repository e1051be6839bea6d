"""Hotline's client side: the wire protocol, the Python SDK and the web console."""
