"""From bytes to rows: sources, parsers, the Dramatiq broker and actors, the load ledger."""
