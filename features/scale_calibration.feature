Feature: Calibrating a pump from the scale
  Instead of measuring by hand, the user lets the daemon calibrate a pump on the scale: at
  each flow rate the pump moves a known distance into the beaker, the settled weight over
  the fluid's density gives the volume, and so a calibration point (ml per mm at that flow
  rate). The points go into the pump's multi-point calibration, each with its residual.

  Background:
    Given pump "X" pours into a beaker on the scale at up to 150 ml/min

  Scenario: A run at three flow rates fills in the pump's calibration from the scale
    When I calibrate pump "X" from the scale at 30, 90 and 150 ml/min with 5 ml per point
    Then the calibration completes with 3 points
    And each point is within 0.5 % of what pump "X" truly delivers at that flow rate
    And pump "X"'s calibration holds those 3 points, each with a residual
    And the journal shows 3 calibration runs of pump "X"

  # Uncalibrated (0.05 ml/mm) this dose would land +0.057 g over: the bench's pump truly
  # gives 0.0506 ml/mm at 1800 mm/min. Each 5 ml point is weighed to 0.01 g (0.2 %).
  Scenario: A later dose by volume is exact with the points from the scale
    Given pump "X" was calibrated from the scale at 30, 90 and 150 ml/min with 5 ml per point
    When I dose 5 ml of "X" at 90 ml/min into an empty beaker
    Then the beaker really holds 5 g within 0.03 g

  Scenario: Flow rates that make no sense are refused before anything moves
    When I try to calibrate pump "X" from the scale at 0 ml/min
    Then the calibration is refused naming "flowRates"
    And pump "X" never moved
