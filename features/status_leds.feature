Feature: Status LEDs
  Four strips of eight WS2812B LEDs, one strip per pump, say at a glance what the device
  does: green idle, blue dosing with a bar that fills as the dose goes, amber holding, red
  on a fault, the whole bar flashing red in an emergency, and dim white on idle strips
  while the broker is unreachable. The colours are read back from what was written to the
  LEDs: on the SPI wiring, the bytes the WS2812B chain would receive, decoded.

  Background:
    Given the status LEDs are 4 strips of 8, one per pump "X", "Y", "Z" and "A"

  Scenario: Idle pumps are green
    When the daemon starts
    Then every strip is green

  Scenario: A dosing pump fills its strip in blue as the dose goes
    When pump "Y" doses 3 ml at 60 ml/min
    Then strip "Y" shows a blue bar that fills from 1 to 8 LEDs
    And the other strips stay green
    And strip "Y" is green again once the dose is done

  Scenario: A held pump is amber
    When pump "Z" doses 20 ml at 30 ml/min in a recipe
    And the recipe is paused
    Then strip "Z" is amber
    And the other strips stay green

  Scenario: The emergency stop flashes the whole bar red
    When pump "X" doses 20 ml at 30 ml/min
    And the emergency stop is pressed
    Then the whole bar flashes red, on and off every 250 ms
    And after the reset every strip is green

  Scenario: A lost controller turns every strip red
    When the daemon starts
    And the controller's serial link is lost
    Then every strip is red

  Scenario: Idle strips are dim white while the broker is unreachable
    Given the broker is unreachable
    When the daemon starts
    Then every strip is dim white

  Scenario: The brightness is capped
    Given the LEDs may draw at most 150 mA at brightness 1.0
    When the daemon starts
    Then every strip is green at the capped brightness, drawing at most 150 mA
