"""The Slack adapter: slack-bolt listeners and a ReplySurface, translating to the conversation service."""
