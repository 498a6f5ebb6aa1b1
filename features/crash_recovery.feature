Feature: Crash recovery
  A daemon that dies mid-dose (a crash, a kill, a hang ended by the watchdog) leaves the
  dose unfinished in its journal. At its next start the daemon settles that dose from where
  the pump's axis stands: interrupted, with the volume that really flowed, or, when that
  cannot be known, the most that can have flowed. An alarm reports it. The dose is never
  resumed or repeated, and the pumps dose again once it is settled.

  Background:
    Given pump "X" delivers 0.05 ml per mm at up to 150 ml/min

  Scenario: A dose cut short by a crash is journaled with the volume that flowed
    Given I dose 10 ml on pump "X" at 30 ml/min
    And pump "X" has delivered some of it
    When the daemon crashes
    And the daemon starts again
    Then the journal shows the dose interrupted with the volume pump "X"'s axis travelled
    And an alarm reports the interrupted dose
    And no dose has started by itself
    And a dose of 1 ml on pump "X" at 60 ml/min is delivered

  Scenario: When the controller restarted too, only an upper bound is known
    Given pump "X" has delivered a dose of 1 ml
    And I dose 10 ml on pump "X" at 30 ml/min
    And the journal holds some progress of the dose
    When the daemon crashes
    And the controller restarts
    And the daemon starts again
    Then the journal shows the dose interrupted, uncertain ≤ 10 ml, at least its journaled progress
    And an alarm reports the interrupted dose
    And no dose has started by itself
    And a dose of 1 ml on pump "X" at 60 ml/min is delivered
