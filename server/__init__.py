"""Hotline's server: domain rules, storage, the HTTP and WebSocket API, and the command line."""
