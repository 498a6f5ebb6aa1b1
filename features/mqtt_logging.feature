Feature: Dose events logged over MQTT (the user's Test 23)
  Every dispense reaches the monitoring system as a dispenseStart and a dispenseComplete
  event with the user's field names, the volume really delivered, its duration, a seq
  number and a UTC timestamp, in order, with nothing lost to a broker outage.

  Background:
    Given the daemon is running and registered

  Scenario: Every dispense is logged with exact volumes, durations and ordered times
    When I dose 1 ml on pump "X" at 60 ml/min over HTTP
    And the dose completes within 10 seconds
    And I dose 0.5 ml on pump "X" at 30 ml/min over HTTP
    And the dose completes within 10 seconds
    Then the monitoring system receives a dispenseStart and a dispenseComplete for each dose
    And each dispenseComplete reports the actual volume within one step and a duration that fits the flow rate
    And the seq numbers have no gaps and the timestamps are in order

  Scenario: Events made while the broker is down arrive when it is back
    When the broker is stopped
    And I dose 1 ml on pump "X" at 60 ml/min over HTTP
    And the dose completes within 10 seconds
    And the broker is started again
    Then the monitoring system receives a dispenseStart and a dispenseComplete for each dose
