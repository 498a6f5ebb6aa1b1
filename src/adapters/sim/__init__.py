"""Protocol-faithful device simulators behind real pseudo-terminals."""
