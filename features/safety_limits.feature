Feature: Safety limits and pre-flight checks
  Every dose is checked before the motor starts: the pump's largest single dose and fastest
  flow, what it may deliver per hour and per day, what all pumps together may deliver per
  day, and what its reservoir still holds. A refusal names the rule that refused it, is
  journaled and raises an alarm. A continuous run is sent as short moves renewed while the
  daemon is healthy, so a hung daemon's pump stops by itself.

  Background:
    Given pump "X" delivers 0.05 ml per mm at up to 150 ml/min

  Scenario Outline: A request beyond the pump's limits is refused before anything moves
    Given pump "X" doses at most 2 ml at a time
    When I ask pump "X" for <volume> ml at <flow> ml/min
    Then the request is refused with 422 "limit_exceeded" by rule "<rule>"
    And the journal shows a refused dose of <volume> ml on pump "X" by rule "<rule>"
    And the monitoring system is alarmed that pump "X"'s dose was refused by rule "<rule>"
    And no pump has moved

    Examples:
      | volume | flow | rule     |
      | 2.5    | 60   | max_dose |
      | 1      | 151  | max_flow |

  Scenario Outline: A quota refuses the dose that would exceed it and lets smaller ones pass
    Given pump "X" may deliver 1.2 ml per <window>
    When pump "X" delivers a dose of 0.5 ml at 150 ml/min
    And pump "X" delivers a dose of 0.5 ml at 150 ml/min
    And I ask pump "X" for 0.5 ml at 150 ml/min
    Then the request is refused with 409 "limit_reached" by rule "<rule>"
    And the journal shows a refused dose of 0.5 ml on pump "X" by rule "<rule>"
    And the monitoring system is alarmed that pump "X"'s dose was refused by rule "<rule>"
    And pump "X" delivers a dose of 0.15 ml at 150 ml/min

    Examples:
      | window | rule         |
      | hour   | max_per_hour |
      | day    | max_per_day  |

  Scenario: The daily cap counts what all pumps delivered together
    Given pump "Y" delivers 0.05 ml per mm at up to 150 ml/min
    And all pumps together may deliver 1 ml per day
    When pump "X" delivers a dose of 0.7 ml at 150 ml/min
    And I ask pump "Y" for 0.5 ml at 150 ml/min
    Then the request is refused with 409 "limit_reached" by rule "global_max_per_day"
    And the journal shows a refused dose of 0.5 ml on pump "Y" by rule "global_max_per_day"
    And the monitoring system is alarmed that pump "Y"'s dose was refused by rule "global_max_per_day"
    And pump "Y" delivers a dose of 0.25 ml at 150 ml/min

  Scenario: A reservoir that cannot supply a dose refuses it until it is refilled
    Given pump "X" draws from a 1 ml reservoir that is low at 0.2 ml
    When pump "X" delivers a dose of 0.6 ml at 150 ml/min
    And I ask pump "X" for 0.5 ml at 150 ml/min
    Then the request is refused with 409 "limit_reached" by rule "reservoir_empty"
    And the journal shows a refused dose of 0.5 ml on pump "X" by rule "reservoir_empty"
    And the monitoring system is alarmed that pump "X"'s dose was refused by rule "reservoir_empty"
    When I refill pump "X"'s reservoir
    Then pump "X"'s reservoir holds 1 ml
    And pump "X" delivers a dose of 0.5 ml at 150 ml/min
    And pump "X"'s reservoir holds 0.5 ml

  Scenario: Crossing the reservoir's low mark raises one alarm
    Given pump "X" draws from a 2 ml reservoir that is low at 1 ml
    When pump "X" delivers a dose of 0.6 ml at 150 ml/min
    Then the monitoring system has received 0 "reservoirLow" alarms for pump "X"
    When pump "X" delivers a dose of 0.6 ml at 150 ml/min
    Then the monitoring system has received 1 "reservoirLow" alarm for pump "X"
    When pump "X" delivers a dose of 0.6 ml at 150 ml/min
    Then the monitoring system has received 1 "reservoirLow" alarm for pump "X"
    And pump "X"'s reservoir holds 0.2 ml

  Scenario: The pump list shows each pump's limits, what it used and its reservoir
    Given pump "X" doses at most 2 ml at a time
    And pump "X" may deliver 5 ml per hour
    And pump "X" may deliver 20 ml per day
    And pump "X" draws from a 10 ml reservoir that is low at 2 ml
    When pump "X" delivers a dose of 1 ml at 150 ml/min
    Then the pump list shows for pump "X":
      | max single dose | 2   |
      | max flow rate   | 150 |
      | max per hour    | 5   |
      | max per day     | 20  |
      | used last hour  | 1   |
      | used last day   | 1   |
      | reservoir level | 9   |
      | capacity        | 10  |
      | low mark        | 2   |
      | percent full    | 90  |
      | low             | no  |

  Scenario: A continuous run goes on until stopped, in moves no longer than the dead man
    Given a continuous run must be renewed within 1 second
    When I start pump "X" running at 150 ml/min
    And pump "X" has delivered more than 3.5 ml
    And I stop pump "X"
    Then the journal shows the continuous run stopped with the volume its axis travelled
    And the controller was sent more than 3 moves, none longer than 1 second

  Scenario Outline: A continuous run stops by itself at what the pump may deliver
    Given <limit>
    And a continuous run must be renewed within 0.5 seconds
    When I start pump "X" running at 150 ml/min
    Then the continuous run completes by itself with <volume> ml delivered
    And the controller was sent more than 2 moves, none longer than 0.5 seconds

    Examples:
      | limit                                                   | volume |
      | pump "X" doses at most 2 ml at a time                   | 2      |
      | pump "X" draws from a 1.5 ml reservoir that is low at 0.5 ml | 1.5    |

  Scenario: A hung daemon's continuous run stops within the dead man time
    Given a continuous run must be renewed within 1 second
    When I start pump "X" running at 150 ml/min
    And pump "X" has delivered more than 3 ml
    And the daemon hangs
    Then pump "X" comes to rest within 2 seconds, after at most 1 second of travel
