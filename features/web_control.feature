Feature: Web control
  The daemon serves a dashboard that shows the device live in a browser and controls it:
  every page loads quickly, a command from the page comes back within half a second, and
  what happens elsewhere shows up without reloading the page.

  Background:
    Given the dashboard is open in a browser with the API token

  Scenario: The UI loads
    Then every page of the dashboard shows with the system state within 3 s

  Scenario: Commands execute
    When I ask the Manual page for 5 ml on pump "X" at 30 ml/min
    Then the Dashboard shows pump "X" dosing
    When I stop pump "X" from the Manual page
    Then the Dashboard shows pump "X" idle
    When I press the emergency stop on the page
    Then the page shows the emergency stop latched
    When I reset the emergency stop on the page
    Then the page shows the system state IDLE
    And every command from the page came back ok within 500 ms

  Scenario: Real-time updates arrive
    When another client starts a dose of 2 ml on pump "X" at 30 ml/min
    Then within 1 s the Dashboard shows pump "X" dosing
    And pump "X"'s progress moves on the Dashboard
    And the Dashboard shows pump "X"'s dose ending without a reload

  Scenario: No command takes more than 500 ms
    When I dose and stop pump "X" from the Manual page 5 times
    And I press and reset the emergency stop on the page 3 times
    Then every command from the page came back ok within 500 ms
