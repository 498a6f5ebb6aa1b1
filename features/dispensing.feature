Feature: Dispensing by volume
  An operator asks a pump for a volume at a flow rate. The pump delivers it and the
  journal records what really flowed; a request the pump must not carry out is refused
  with a clear reason and nothing moves; a pump told to stop stops at once.

  Background:
    Given pump "X" named "DMDEE" delivers 0.05 ml per mm at up to 150 ml/min

  Scenario: A dose by volume is delivered and journaled
    When I dose 2 ml on pump "X" at 120 ml/min
    Then the dose completes within 10 seconds
    And the journal shows 2 ml requested on pump "X" and the actual volume within one step of it

  Scenario Outline: A request the pump must not carry out is refused and nothing moves
    When I ask pump "<pump>" for <volume> ml at <flow> ml/min
    Then the request is refused as "<code>"
    And no pump has moved
    And the journal holds no dose that ran

    Examples:
      | pump | volume | flow | code           |
      | X    | 0      | 60   | invalid_dose   |
      | X    | -1     | 60   | invalid_dose   |
      | X    | nan    | 60   | invalid_dose   |
      | X    | 1      | nan  | invalid_dose   |
      | X    | 1      | 151  | limit_exceeded |
      | X    | 501    | 60   | limit_exceeded |
      | Q    | 1      | 60   | unknown_pump   |

  Scenario: Stopping mid-dose records the volume actually delivered
    When I dose 10 ml on pump "X" at 60 ml/min
    And pump "X" has delivered some of it
    And I stop pump "X"
    Then the journal shows the dose stopped with an actual volume between 0 and 10 ml
    And the actual volume matches where the pump's axis came to rest
    And pump "X" is idle
