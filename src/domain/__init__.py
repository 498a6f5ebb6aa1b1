"""The dosing domain: pumps, doses, calibration and their events. Pure: no I/O, no clocks."""
