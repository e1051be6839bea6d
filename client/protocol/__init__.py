"""The wire protocol, shared by the server and every client: pure code, no I/O."""
