"""Storage errors: the only exceptions other packages see from the database layer."""


class StorageError(Exception):
    """A database operation failed."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or opened (server down, embedded path locked by another process)."""


class StoreLocked(StorageUnavailable):
    """The embedded store's data directory is held by another process."""


class QueryTimeout(StorageError):
    """A query ran longer than the configured execution time limit."""


class BadInput(StorageError):
    """ClickHouse rejected the data sent to it (unparseable rows)."""


class SchemaError(StorageError):
    """The schema is not at the version this code expects, or a migration file was changed."""
