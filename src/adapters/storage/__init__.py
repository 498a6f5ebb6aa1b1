"""SQLite storage adapters (dose journal, later NVS and outbox)."""
