"""The dead man of a continuous run: never more than dead_man_s of motion planned."""

import pytest

from domain.dead_man import DeadManRun, Segment


def test_the_first_segment_is_half_the_dead_man_time_of_travel() -> None:
    run = DeadManRun(total_mm=1000.0, feed_mm_min=600.0, dead_man_s=5.0)  # 10 mm/s
    assert run.next_segment(0.0) == Segment(25.0, final=False)
    assert run.planned_s(0.0) == pytest.approx(2.5)


def test_a_segment_is_renewed_only_once_less_than_half_remains_planned() -> None:
    run = DeadManRun(total_mm=1000.0, feed_mm_min=600.0, dead_man_s=5.0)
    run.next_segment(0.0)
    assert run.next_segment(0.0) is None  # 2.5 s planned: enough
    assert run.next_segment(0.1) == Segment(25.0, final=False)  # 2.49 s left: renew
    assert run.sent_mm == 50.0


@pytest.mark.parametrize("travelled_step_mm", [0.5, 1.0, 3.7, 10.0])
def test_never_more_than_the_dead_man_time_is_planned(travelled_step_mm: float) -> None:
    run = DeadManRun(total_mm=500.0, feed_mm_min=600.0, dead_man_s=5.0)
    travelled = 0.0
    while not run.fully_sent:
        run.next_segment(travelled)
        assert run.planned_s(travelled) <= 5.0 + 1e-9
        travelled = min(run.sent_mm, travelled + travelled_step_mm)


def test_the_last_segment_is_cut_to_the_total_and_marked_final() -> None:
    run = DeadManRun(total_mm=30.0, feed_mm_min=600.0, dead_man_s=5.0)
    assert run.next_segment(0.0) == Segment(25.0, final=False)
    assert run.next_segment(24.0) == Segment(5.0, final=True)
    assert run.fully_sent
    assert run.next_segment(30.0) is None


def test_a_run_shorter_than_one_segment_is_one_final_segment() -> None:
    run = DeadManRun(total_mm=4.0, feed_mm_min=600.0, dead_man_s=5.0)
    assert run.next_segment(0.0) == Segment(4.0, final=True)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_values_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        DeadManRun(total_mm=bad, feed_mm_min=600.0, dead_man_s=5.0)
    with pytest.raises(ValueError, match="positive finite"):
        DeadManRun(total_mm=10.0, feed_mm_min=600.0, dead_man_s=bad)
