"""Test doubles shared by test folders: servers that tests start and stop themselves."""
