Feature: Schedules
  A schedule doses a pump, or runs a recipe, at the times a cron expression names, in the
  schedule's time zone. Each slot doses at most once, also across a restart. A slot missed
  while the daemon was down or the emergency stop was latched follows the schedule's
  policy: skipped with an alarm, or run once, late, within a grace window.

  Background:
    Given pump "X" delivers 0.05 ml per mm at up to 150 ml/min
    And the clock shows 07:59:30 on 2026-11-21 in "Europe/Berlin"

  Scenario: A schedule fires once per slot
    Given a schedule "Morning" doses 0.5 ml on pump "X" at 60 ml/min at "0 8 * * *" in "Europe/Berlin"
    When the scheduler checks every 5 seconds until 08:02
    Then pump "X" received 1 dose from the schedule
    And the schedule's run is recorded as on time for 08:00

  Scenario: A restart at the firing minute does not dose twice
    Given a schedule "Morning" doses 0.5 ml on pump "X" at 60 ml/min at "0 8 * * *" in "Europe/Berlin"
    When the scheduler checks at 08:00:05
    And the daemon restarts and the scheduler checks at 08:00:20 and at 08:00:50
    Then pump "X" received 1 dose from the schedule

  Scenario: A slot missed within the grace window runs once, late, with a warning
    Given a schedule "Morning" doses 0.5 ml on pump "X" at 60 ml/min at "0 8 * * *" in "Europe/Berlin"
    And it may catch up a missed slot within 30 minutes
    When the scheduler first checks at 08:20 and again at 08:21
    Then pump "X" received 1 dose from the schedule
    And the schedule's run is recorded as a catch-up for 08:00
    And the monitoring system is warned that the schedule caught up a missed slot

  Scenario: A slot missed outside the grace window is skipped with an alarm
    Given a schedule "Morning" doses 0.5 ml on pump "X" at 60 ml/min at "0 8 * * *" in "Europe/Berlin"
    And it may catch up a missed slot within 10 minutes
    When the scheduler first checks at 08:20
    Then pump "X" received no dose
    And the monitoring system is alarmed that the schedule missed 1 slot

  Scenario: A slot missed while the emergency stop was latched is decided after the reset
    Given a schedule "Morning" doses 0.5 ml on pump "X" at 60 ml/min at "0 8 * * *" in "Europe/Berlin"
    And it may catch up a missed slot within 30 minutes
    And the emergency stop is latched
    When the scheduler checks at 08:00:05
    Then pump "X" received no dose
    When the emergency stop is reset and the scheduler checks at 08:10
    Then pump "X" received 1 dose from the schedule
    And the schedule's run is recorded as a catch-up for 08:00
