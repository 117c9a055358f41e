# Fixtures, options and scenario parametrization of airbyte-cdk's standard tests
# (integration_tests/test_standard_source_suite.py); pytest only loads plugins from the root conftest.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


def pytest_configure(config):
    # Marks the CDK's standard tests put on their tests; registered so pytest does not warn about them.
    config.addinivalue_line("markers", "image_tests: airbyte-cdk standard tests that run the connector's Docker image")
    config.addinivalue_line("markers", "containers: our tests of the connectors' images (integration_tests/test_container_images.py)")
    config.addinivalue_line("markers", "requires_creds: airbyte-cdk standard test scenarios whose config is under secrets/")
