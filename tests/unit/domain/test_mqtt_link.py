"""The MQTT link's state machine and the user's backoff: 30, 60, …, 3600 s, reset on connect."""

import pytest

from domain.mqtt_link import (
    BackoffPolicy,
    Connected,
    ConnectionLost,
    LinkState,
    MqttLink,
    RegistrationDue,
)


def link(policy: BackoffPolicy | None = None) -> MqttLink:
    return MqttLink(policy or BackoffPolicy(), random_unit=lambda: 0.5)


def test_the_backoff_doubles_from_30_s_and_caps_at_3600_s() -> None:
    policy = BackoffPolicy()
    assert [policy.delay_s(n) for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


def test_a_very_long_outage_stays_at_the_cap() -> None:
    assert BackoffPolicy().delay_s(10_000) == 3600


def test_jitter_spreads_each_delay_within_its_band() -> None:
    policy = BackoffPolicy(initial_s=30, max_s=3600, jitter=0.2)
    assert policy.delay_s(2, random_unit=0.0) == pytest.approx(48.0)
    assert policy.delay_s(2, random_unit=0.999999) == pytest.approx(72.0, abs=1e-3)


@pytest.mark.parametrize(
    ("initial", "maximum", "jitter"), [(0, 10, 0), (10, 5, 0), (1, 10, 1.5), (-1, 10, 0)]
)
def test_a_nonsensical_policy_is_refused(initial: float, maximum: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(initial, maximum, jitter)


def test_a_good_connack_connects_and_makes_registration_due() -> None:
    mqtt = link()
    mqtt.connecting()
    mqtt.connect_accepted()
    assert mqtt.state is LinkState.CONNECTED
    assert mqtt.pull_events() == [Connected(), RegistrationDue()]


def test_each_failure_waits_longer_and_a_connection_resets_the_wait() -> None:
    mqtt = link()
    waits = []
    for _ in range(3):
        mqtt.connecting()
        waits.append(mqtt.connect_failed("refused"))
    assert waits == [30, 60, 120]
    assert mqtt.state is LinkState.WAITING
    mqtt.connecting()
    mqtt.connect_accepted()
    assert mqtt.failures == 0
    assert mqtt.connection_lost("keepalive timeout") == 30


def test_a_lost_connection_records_why_and_how_long_to_wait() -> None:
    mqtt = link()
    mqtt.connecting()
    mqtt.connect_accepted()
    mqtt.pull_events()
    mqtt.connection_lost("broker went away")
    assert mqtt.pull_events() == [ConnectionLost("broker went away", 1, 30.0)]
    assert mqtt.view().last_error == "broker went away"


def test_a_profile_change_while_connected_makes_registration_due_but_not_while_down() -> None:
    mqtt = link()
    mqtt.profile_changed()
    assert mqtt.pull_events() == []
    mqtt.connecting()
    mqtt.connect_accepted()
    mqtt.pull_events()
    mqtt.profile_changed()
    assert mqtt.pull_events() == [RegistrationDue()]


def test_stopping_leaves_the_link_disconnected() -> None:
    mqtt = link()
    mqtt.connecting()
    mqtt.stop()
    assert mqtt.state is LinkState.DISCONNECTED
