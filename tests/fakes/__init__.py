"""Local fakes of Google services, served over their real wire protocols for tests."""
