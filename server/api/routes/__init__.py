"""One router per concept; ``server.app`` mounts them under ``/api/v1``."""
