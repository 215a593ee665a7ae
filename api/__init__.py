"""From rows to answers: read functions that own the SQL, DataLoaders, the Strawberry schema, the app."""
