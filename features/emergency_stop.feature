Feature: Latched emergency stop
  An emergency stop from any interface halts every pump at once, journals what flowed,
  raises an alarm, and keeps every dose refused until someone resets it, also across a
  restart of the daemon.

  Background:
    Given the daemon is running and registered

  Scenario: An emergency stop over HTTP halts the running dose and latches
    When I dose 10 ml on pump "X" at 30 ml/min over HTTP
    And pump "X" has started dosing
    And I press the emergency stop over HTTP
    Then the journal shows the dose stopped with less than 10 ml delivered
    And the system state is EMERGENCY
    And a dose over HTTP is refused as "emergency_stop_latched"
    And the monitoring system receives an emergencyStop alarm

  Scenario: An emergency stop over MQTT latches until it is reset
    When the monitoring system sends {"correlationId": "estop-1"} to "cmd/emergency-stop"
    Then a dose over HTTP is refused as "emergency_stop_latched"
    When I reset the emergency stop over HTTP
    Then the system state is IDLE
    And a dose of 1 ml on pump "X" at 60 ml/min is accepted

  Scenario: The latch survives a restart of the daemon
    When I press the emergency stop over HTTP
    And the daemon restarts
    Then the system state is EMERGENCY
    And a dose over HTTP is refused as "emergency_stop_latched"
