Feature: Commands over MQTT
  The monitoring system doses and stops pumps over MQTT. Every command gets a result
  naming its correlation id; a command the broker delivers twice runs once; a command the
  pump must not carry out gets an error result and nothing moves.

  Background:
    Given the daemon is running and registered

  Scenario: A dose command doses and answers with its correlation id
    When the monitoring system sends {"volume_ml": 1, "flowRate_ml_min": 60, "correlationId": "cmd-1"} to "cmd/X/dose"
    Then a result for "cmd-1" says ok with a dose id
    And that dose completes with 1 ml delivered

  Scenario: A command delivered twice runs once
    When the monitoring system sends {"volume_ml": 1, "flowRate_ml_min": 60, "correlationId": "cmd-2"} to "cmd/X/dose"
    And the monitoring system sends {"volume_ml": 1, "flowRate_ml_min": 60, "correlationId": "cmd-2"} to "cmd/X/dose"
    Then 2 results for "cmd-2" name the same dose
    And the journal holds 1 dose

  Scenario: A stop command stops the running dose
    When the monitoring system sends {"volume_ml": 10, "flowRate_ml_min": 30, "correlationId": "cmd-3"} to "cmd/X/dose"
    And the monitoring system sends {"correlationId": "cmd-4"} to "cmd/X/stop"
    Then a result for "cmd-4" says ok
    And the journal shows the dose stopped

  Scenario Outline: A command the pump must not carry out gets an error result and nothing moves
    When the monitoring system sends <payload> to "<topic>"
    Then an error result "<code>" arrives
    And no dose ran

    Examples:
      | topic      | payload                                                              | code           |
      | cmd/X/dose | not json at all                                                      | bad_request    |
      | cmd/X/dose | {"volume_ml": "1", "flowRate_ml_min": 60, "correlationId": "bad-1"}  | invalid_dose   |
      | cmd/X/dose | {"volume_ml": 1, "flowRate_ml_min": 999, "correlationId": "bad-2"}   | limit_exceeded |
      | cmd/X/dose | {"volume_ml": 0, "flowRate_ml_min": 60, "correlationId": "bad-3"}    | invalid_dose   |
      | cmd/Q/dose | {"volume_ml": 1, "flowRate_ml_min": 60, "correlationId": "bad-4"}    | unknown_pump   |
      | cmd/X/dose | {"volume_ml": 1, "flowRate_ml_min": 60}                              | bad_request    |
      | cmd/X/fly  | {"correlationId": "bad-5"}                                           | bad_request    |
