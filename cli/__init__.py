"""The `minigpt-tui` command: the dashboard by default, headless subcommands for scripts."""
