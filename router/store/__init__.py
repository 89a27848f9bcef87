"""Persistence: ``base.Store`` (the sum of every slice's store protocol),
the engine that knows no table, and the errors every driver's error becomes.
Nothing is imported here, so that a slice can import ``router.store.errors``
without loading the whole store (which imports every slice)."""
