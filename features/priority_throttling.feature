Feature: Network work backs off while pumps run
  The user's task-management priorities: while the device is idle its outbox drains fast
  (10 messages every 10 ms); while a pump doses it sends one message per 100 ms; in an
  emergency alarms go before everything else. The queue's health is published and warns
  at 80 % full.

  Background:
    Given 30 dose events are waiting to be sent

  Scenario: Idle drains ten messages every 10 ms
    When the device is idle
    Then one drain step sends 10 messages and pauses 10 ms

  Scenario: Dispensing throttles to one message per 100 ms
    When a pump is dosing
    Then one drain step sends 1 message and pauses 100 ms

  Scenario: An emergency sends the alarm before the waiting events
    Given an alarm is raised
    When the device is in an emergency
    Then one drain step sends the alarm first

  Scenario: The queue status warns at 80 % full
    Given the outbox holds at most 36 messages
    When the status is published
    Then the queue status reports 30 of 36 with a warning
