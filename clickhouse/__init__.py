"""Everything that lives in the database: migrations, the client factory, storage errors."""
