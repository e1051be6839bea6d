"""What the API and the command line call: one function per use case.

Each command opens one transaction, lets the domain decide, writes the events and the new
state, and commits once. Each query checks that the caller's party may see what it asks
for. Routes and commands hold no SQL and no rules: they call these.
"""
