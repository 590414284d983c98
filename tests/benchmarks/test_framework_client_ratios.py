"""The original framework's ratios of benchmarks/framework_client.py, as measured and scaled
to the speed of the machine issue 17 ran the original on."""

from benchmarks.framework_client import ORIGINAL, ORIGINAL_MACHINE_FACENET_MS, ratios


def test_a_machine_as_fast_as_the_originals_leaves_the_ratio_as_measured() -> None:
    rate = 5 * ORIGINAL["crop"]
    assert ratios(rate, "crop", ORIGINAL_MACHINE_FACENET_MS) == (
        "5.0x the original, 5.0x at its machine's speed"
    )


def test_a_machine_twice_as_fast_halves_the_scaled_ratio() -> None:
    rate = 8 * ORIGINAL["photo"]
    assert ratios(rate, "photo", ORIGINAL_MACHINE_FACENET_MS / 2) == (
        "8.0x the original, 4.0x at its machine's speed"
    )
