Feature: Recipes
  A recipe is an ordered list of steps. A step doses one or more pumps together, as one
  coordinated move that ends together, then may wait before the next step so that fluids
  that must not meet never do. The whole recipe is checked before its first step, and every
  step is recorded, so a run cut short says where it stopped and nothing is repeated.

  Background:
    Given pumps "X", "Y" and "Z" deliver 0.05 ml per mm at up to 150 ml/min

  Scenario: A parallel step runs as one move that ends together, then the wait, then the next step
    Given a recipe "Two Part": 1 ml of "X" with 0.5 ml of "Y" at 60 ml/min, wait 1 s, then 0.5 ml of "Z" at 60 ml/min
    When I run the recipe "Two Part"
    Then the run completes 2 of 2 steps
    And the controller was sent one move for "X" and "Y" together, then one for "Z" alone
    And pump "Y" was slowed to 30 ml/min so that it ended with pump "X"
    And the second step started at least 1 s after the first ended
    And the journal shows 1 ml of "X", 0.5 ml of "Y" and 0.5 ml of "Z", each with its run and step
    And the monitoring system was told the recipe started with 2 steps and when it completed

  Scenario: Aborting a run halts the running step and starts no other
    Given a recipe "Slow Pair": 3 ml of "X" at 20 ml/min, then 1 ml of "Y" at 60 ml/min
    When I run the recipe "Slow Pair"
    And I abort the run once pump "X" has dispensed 0.3 ml
    Then the run is aborted at step 1 of 2
    And pump "X"'s dose is journaled as stopped with the volume its axis travelled
    And pump "Y" never moved

  Scenario: A paused run holds its step and finishes it once resumed
    Given a recipe "Slow Pair": 3 ml of "X" at 20 ml/min, then 1 ml of "Y" at 60 ml/min
    When I run the recipe "Slow Pair"
    And I pause the run once pump "X" has dispensed 0.3 ml
    Then pump "X" stands still while the run is paused
    When I resume the run
    Then the run completes 2 of 2 steps
    And the journal shows 3 ml of "X" and 1 ml of "Y", each with its run and step

  Scenario: A recipe that would break a rule does not start
    Given pump "X" may deliver 1.5 ml per day
    And a recipe "Too Much": 1 ml of "X" at 60 ml/min, then 1 ml of "X" at 60 ml/min
    When I try to run the recipe "Too Much"
    Then it is refused by rule "max_per_day" for pump "X"'s total of 2 ml
    And no pump has moved
    And the monitoring system is alarmed that the recipe "Too Much" was refused
