Feature: Device registration
  The dosing device announces itself to the central monitoring system over MQTT carried
  on WebSockets: after every confirmed connection it publishes its MAC, IP address, name
  and location. Name and location live in the device's non-volatile store and can be
  changed over HTTP. (AC-005: every scenario runs on the fake and on the real wiring.)

  Background:
    Given the device is named "Dosing Station 1" at "Greenhouse B, bench 3"

  Scenario: The MQTT client starts with the configured broker URI and client id (AC-001)
    When the daemon starts
    Then the device comes online on the configured broker
    And its client id is "doser_" followed by the last three bytes of its MAC

  Scenario: Registration is published after connecting, once the HTTP server is up (AC-002)
    When the daemon starts
    Then the monitoring system receives a registration naming "Dosing Station 1" at "Greenhouse B, bench 3" with the device's MAC and IP address
    And the HTTP API was already answering when the daemon connected to the broker

  Scenario: The registration goes to the configured topic
    Given the registration topic is "/liwaisi/iot/smart-irrigation/device/registration"
    When the daemon starts
    Then the monitoring system receives a registration on "/liwaisi/iot/smart-irrigation/device/registration"

  Scenario: Renaming the device over HTTP stores it and registers again
    Given the daemon is running and registered
    When I rename the device to "Station 2" at "Lab 4" over HTTP
    Then the monitoring system receives a registration naming "Station 2" at "Lab 4"
    And the HTTP API reports the device as "Station 2" at "Lab 4"

  Scenario: A bad name is refused and nothing is stored
    Given the daemon is running and registered
    When I rename the device to an empty name over HTTP
    Then the request is refused with status 422 naming "deviceName"
    And the HTTP API reports the device as "Dosing Station 1" at "Greenhouse B, bench 3"

  Scenario: Concurrent renames and broker outages never tear a registration (AC-004)
    Given the daemon is running and registered
    When 4 HTTP clients rename the device 25 times each while the broker goes down and comes back
    Then every registration received pairs a name with the location written with it
    And the last registration received matches the stored name and location
