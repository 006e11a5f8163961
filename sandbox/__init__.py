"""Local stand-ins for Kubernetes, Slack and GitHub, used by `kajitori demo` and the tests."""
