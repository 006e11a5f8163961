"""kajitori's Slack bot: commands, buttons and notifications. Depends on reconciler."""
