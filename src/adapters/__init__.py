"""Adapters: serial controllers, storage, HTTP, simulators and in-memory fakes."""
