Feature: Dispensing by weight
  The user stands a beaker on the scale and asks for a target weight. The daemon tares,
  pumps fast up to a cut-off, lets it settle, dribbles slowly and stops early by the liquid
  still in flight, then tops up while short, so the beaker holds the target within the
  scale's resolution. When nothing arrives while the pump turns (an empty reservoir, a
  blocked tube) it stops within seconds and raises an alarm.

  Background:
    Given pump "X" pours into a beaker on the scale at up to 150 ml/min

  Scenario: A target weight is reached within the tolerance
    When I dispense 10 g of "X" by weight
    Then the dispense completes within 0.05 g of 10 g on the scale
    And the beaker really holds 10 g within 0.05 g
    And the journal shows pump "X"'s fast phase first, then its dribble
    And the monitoring system was told the weight dispense completed with its accuracy

  Scenario: An empty reservoir stops the pump with an alarm
    Given the reservoir of pump "X" is empty
    When I dispense 10 g of "X" by weight
    Then the dispense is aborted within 3 s of the pump starting
    And pump "X" stands still
    And the monitoring system was alarmed that the weight did not rise

  Scenario: A tube that blocks mid-dispense stops the pump with an alarm
    When I dispense 10 g of "X" by weight
    And the tube of pump "X" blocks once 3 g have arrived
    Then the dispense is aborted within 3 s of the blockage
    And pump "X" stands still
    And the monitoring system was alarmed that the weight did not rise

  Scenario: A target beyond the pump's limits is refused before anything moves
    Given pump "X" may deliver at most 5 ml at once
    When I try to dispense 10 g of "X" by weight
    Then the dispense is refused with "max_dose"
    And pump "X" never moved

  Scenario: Taring the scale with the empty beaker on it
    When I tare the scale
    Then the scale reads 0 g and stable
