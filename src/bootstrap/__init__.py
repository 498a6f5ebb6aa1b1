"""Composition root: settings, dependency-injector containers, the daemon and its CLI."""
