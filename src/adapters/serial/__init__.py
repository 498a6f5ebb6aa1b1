"""Serial motion-controller adapters (Grbl 1.1 / FluidNC)."""
