"""Use cases of the dosing daemon and the ports (Protocols) they drive."""
