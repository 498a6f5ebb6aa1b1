Feature: Pump calibration
  A pump doses by volume only once it knows how many ml one mm of its axis moves. The user
  enters calibration points, or measures one with a calibration run: the pump moves a known
  distance and the user enters the ml that flowed. Between points the daemon interpolates
  over the flow rate; outside them it holds the end point's value. The calibration is kept
  in the device's non-volatile storage, so it survives a restart of the daemon.

  Scenario: An uncalibrated pump refuses a dose until it is given a calibration point
    Given pump "X" has no calibration
    When I ask pump "X" for 1 ml at 60 ml/min
    Then the request is refused with 409 "not_calibrated"
    And pump "X" shows no valid calibration
    And no pump has moved
    When I enter the calibration point 0.05 ml per mm at 60 ml/min for pump "X"
    And I dose 1 ml on pump "X" at 60 ml/min
    Then pump "X"'s axis moved 20 mm

  Scenario Outline: A dose uses the calibration curve at its flow rate, clamped outside it
    Given pump "X" is configured at 0.05 ml per mm
    And I calibrate pump "X" with 0.07 ml per mm at 30 ml/min and 0.06 ml per mm at 120 ml/min
    When I dose <volume> ml on pump "X" at <flow> ml/min
    Then pump "X"'s axis moved <distance> mm

    # 75 ml/min lies halfway: 0.065 ml/mm. Extrapolating the curve would give 21.18 mm at
    # 150 ml/min and 4.92 mm at 20 ml/min; the configured 0.05 ml/mm would give 24 and 7 mm.
    Examples:
      | volume | flow | distance |
      | 1.3    | 75   | 20       |
      | 1.2    | 150  | 20       |
      | 0.35   | 20   | 5        |

  Scenario: A calibration run's measurement becomes a calibration point
    Given pump "X" is configured at 0.05 ml per mm
    When I start a calibration run of 20 mm on pump "X" at 60 ml/min
    Then the run completes and pump "X"'s axis moved 20 mm
    When I enter 1.1 ml measured for the run
    Then pump "X"'s calibration has the point 0.055 ml per mm at 66 ml/min
    And the measurement reports 1 ml predicted, off by 0.1 ml (10 %)
    When I dose 1.1 ml on pump "X" at 66 ml/min
    Then pump "X"'s axis moved 20 mm

  # Without any calibration the daemon cannot know how much a run would pump, so it could
  # not check the run against the max single dose or the reservoir: a nominal point (from
  # the pump's datasheet) comes first, the runs then measure the real value.
  Scenario: A calibration run needs a nominal calibration first
    Given pump "X" has no calibration
    When I ask for a calibration run of 20 mm on pump "X" at a feed of 1200 mm/min
    Then the request is refused with 409 "not_calibrated"
    And no pump has moved
    When I enter the calibration point 0.05 ml per mm at 60 ml/min for pump "X"
    And I start a calibration run of 20 mm on pump "X" at a feed of 1200 mm/min
    Then the run completes and pump "X"'s axis moved 20 mm
    When I enter 1.1 ml measured for the run
    Then pump "X"'s calibration now has the points 0.05 ml per mm at 60 ml/min and 0.055 ml per mm at 66 ml/min

  Scenario: The calibration survives a restart of the daemon
    Given pump "X" is configured at 0.05 ml per mm
    And I calibrate pump "X" with 0.07 ml per mm at 30 ml/min and 0.06 ml per mm at 120 ml/min
    When the daemon restarts
    Then pump "X"'s calibration is still 0.07 ml per mm at 30 ml/min and 0.06 ml per mm at 120 ml/min, dated as before
    When I dose 1.3 ml on pump "X" at 75 ml/min
    Then pump "X"'s axis moved 20 mm

  Scenario: Deleting the calibration falls back to the configured ml per mm
    Given pump "X" is configured at 0.05 ml per mm
    And I calibrate pump "X" with 0.07 ml per mm at 30 ml/min and 0.06 ml per mm at 120 ml/min
    When I delete pump "X"'s calibration
    Then pump "X" is calibrated from its configuration at 0.05 ml per mm
    When I dose 1 ml on pump "X" at 75 ml/min
    Then pump "X"'s axis moved 20 mm
