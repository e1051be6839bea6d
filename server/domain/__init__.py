"""The channel's rules as pure code: no I/O, no framework, nothing awaited.

``model`` holds the values, ``events`` what can happen and how it changes a notice,
``rules`` which commands cause which events, and ``errors`` why a command is refused.
"""
