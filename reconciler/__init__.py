"""kajitori's GitOps engine. Knows nothing of Slack."""
