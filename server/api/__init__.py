"""The HTTP API: routes that parse, call one service function, and answer."""
