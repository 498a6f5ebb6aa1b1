Feature: Reconnection with exponential backoff
  When the broker cannot be reached, refuses the device, or drops the connection, the
  daemon waits 30 s, then doubles the wait after each failure up to 3600 s, and keeps
  trying forever; a good connection resets the wait. Dosing never waits on the broker.

  Scenario: The backoff sequence while the broker stays down (AC-003)
    Given the broker is down
    When the daemon has tried to connect 10 times on a fake clock
    Then it waited 30, 60, 120, 240, 480, 960, 1920, 3600, 3600 and 3600 seconds between attempts

  Scenario: A broker that is stopped and started again gets a fresh registration
    Given the daemon is running and registered
    When the broker is stopped
    And the broker is started again
    Then the daemon reconnects and registers again

  Scenario: Refused credentials are retried with backoff and the reason is kept
    Given the broker refuses the device's credentials
    When the daemon starts
    Then the daemon keeps retrying with growing waits
    And the link status shows the broker's reason

  Scenario: Dosing works while the broker is down
    Given the broker is down
    When the daemon starts
    And I dose 1 ml on pump "X" at 60 ml/min over HTTP
    Then the dose completes within 10 seconds
    And the link status shows the daemon waiting to reconnect
