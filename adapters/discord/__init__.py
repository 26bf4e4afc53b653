"""The Discord adapter (discord.py): translates gateway events and interactions into service calls.

`runner.run_discord` is what `moa-bot run` starts; `client.build_discord_client` builds the bot.
"""
