"""pytest plugin: keep only the tests that take the `device` fixture (the device-independent
ones), so `pytest -p device_tests_only --device cuda` runs exactly those on the GPU.
bench/device_check.sh loads it with bench/ on PYTHONPATH."""


def pytest_collection_modifyitems(config, items):
    keep, dropped = [], []
    for item in items:
        (keep if "device" in getattr(item, "fixturenames", ()) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep
