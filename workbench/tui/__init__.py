"""The review TUI (Textual). Everything Textual lives under this package."""
