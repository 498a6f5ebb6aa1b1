"""Laboratory scale adapters (Mettler Toledo MT-SICS over a serial line)."""
